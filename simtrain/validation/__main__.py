"""``python -m simtrain.validation > docs/validation.md`` regenerates the validation page."""

from simtrain.validation.report import validation_markdown

print(validation_markdown(), end="")
