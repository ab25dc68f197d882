"""mlops services: decisions, registry, training, suggestions, roll-out."""
