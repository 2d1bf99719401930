"""pyimagesearch: the Practitioner Bundle's library, rebuilt on Keras 3."""

__version__ = "0.1.0"
