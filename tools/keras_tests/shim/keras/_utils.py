"""Small generic helpers Keras' tests reach through `keras.src.utils` (not numnet API)."""


def removesuffix(text, suffix):
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


def removeprefix(text, prefix):
    return text[len(prefix):] if prefix and text.startswith(prefix) else text
