"""The environment protocol of online tasks (`protocol.py`); each environment lives in its task's package."""
