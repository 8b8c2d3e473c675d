"""Example texts for the Playground, one per language, written for this project (no third-party text).

Each holds people, organisations and places, in Latin, Cyrillic, Arabic (right to left), Devanagari and
Chinese script (no spaces between words: the word splitter gives one word per character).
"""

from __future__ import annotations

#: Label -> (language code, text).
EXAMPLES: dict[str, tuple[str, str]] = {
    "English": ("en", "Maria Lopez joined the United Nations office in Geneva after ten years at Siemens in Munich."),
    "Español": ("es", "Carlos Ruiz presentó el informe del Banco de España en Sevilla el martes."),
    "Deutsch": ("de", "Anna Schmidt arbeitet seit 2019 für die Deutsche Bahn in Hamburg."),
    "Français": ("fr", "Le président de Renault, Jean Martin, a visité l'usine de Lyon avec des ingénieurs de Toyota."),
    "Русский": ("ru", "Иван Петров возглавил отделение Газпрома в Новосибирске в прошлом году."),
    "العربية": ("ar", "التقى أحمد خالد بممثلي منظمة الصحة العالمية في القاهرة يوم الأحد."),
    "हिन्दी": ("hi", "राहुल शर्मा ने दिल्ली में भारतीय रिज़र्व बैंक के अधिकारियों से मुलाकात की।"),
    "中文": ("zh", "李伟去年加入了华为公司在深圳的研发中心。"),
}
