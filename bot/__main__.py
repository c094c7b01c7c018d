"""`python -m bot ...` is the `nudgebot` command (for a checkout without the script)."""

from bot.cli import main

main()
