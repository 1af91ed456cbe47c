"""The widgets of calc-tui; each reacts to reactive attributes set by the app."""
