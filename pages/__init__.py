"""Streamlit pages (st.navigation in app.py lists them); files starting with _ are helpers, not pages."""
