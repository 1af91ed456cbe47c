"""The screens calc-tui opens over its main one: help and the quit confirmation."""
