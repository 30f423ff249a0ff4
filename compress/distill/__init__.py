"""Distillation: student builders (a registry), losses and an Accelerate trainer."""
