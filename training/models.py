"""Models arrive with this app's issue; the app is installed now so its migrations start at 0001."""
