"""`python -m bot.cli ...` is the `nudgebot` command."""

from bot.cli import main

main()
