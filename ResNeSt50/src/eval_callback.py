"""ResNeSt's evaluation during training: the zoo's callback. ResNeSt adds nothing to it, so this is an
alias of `zoo_core.engine.eval_callback` (the same object), where the ModelZoo layout puts it."""
from zoo_core.engine.eval_callback import EvalCallback

__all__ = ['EvalCallback']
