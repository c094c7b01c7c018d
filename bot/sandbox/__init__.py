"""`nudgebot sandbox`: the real bot on a built-in local Slack, with a page to use it.

The sandbox starts :class:`bot.localslack.LocalSlack` with a seeded workspace,
then the same Bolt app, listeners, planner, sender and scheduler ticks as
`nudgebot run` in HTTP mode, pointed at it. The page (``static/``) plays Slack's
client: it asks the local Slack what each person sees and sends the bot what
Slack would send when they click, type or submit, signed with the sandbox's own
secret. Nothing in a feature knows it runs in a sandbox.
"""
