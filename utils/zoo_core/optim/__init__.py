"""Optimizer with the recipe's parameter groups, and the per-step learning-rate schedules."""
