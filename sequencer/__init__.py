"""sequencer: follow-up sequences for sales teams."""

__version__ = "0.1.0"
