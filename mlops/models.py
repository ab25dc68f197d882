"""Models arrive with their issue; the app is wired in now so migrations and URLs have a home."""
