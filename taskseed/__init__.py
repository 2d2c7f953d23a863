"""taskseed: task-seeded synthetic Q&A for continued pretraining."""

__version__ = "0.1.0"
