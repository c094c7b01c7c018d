"""Web API methods of the local Slack: ending a custom step (a function) of a workflow.

``functions.completeSuccess`` (``function_execution_id``, ``outputs``) and
``functions.completeError`` (``function_execution_id``, ``error``), with the
errors Slack's method reference lists: ``function_execution_not_found`` for an
id Slack never issued, ``execution_not_in_running_state`` once the execution
was completed or failed, and ``parameter_validation_failed`` when the outputs
do not fit the function's declared output parameters. Neither needs a scope;
the bot token or the workflow's token (``bot_access_token``) both work.
"""

from __future__ import annotations

import re
from typing import Any

from .records import JSON, FunctionExecution, SlackError, invalid_arguments
from .webapi import Call, WebApi, api

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _running(self: WebApi, call: Call) -> FunctionExecution:
    execution_id = call.required("function_execution_id")
    execution = self.ws.function_executions.get(execution_id)
    if execution is None:
        raise SlackError("function_execution_not_found")
    if execution.state != "running":
        raise SlackError("execution_not_in_running_state")
    return execution


@api("functions.completeSuccess")
def functions_complete_success(self: WebApi, call: Call) -> JSON:
    execution = _running(self, call)
    if call.params.get("outputs") is None:
        raise invalid_arguments("missing required field: outputs")
    outputs = call.json("outputs")
    if not isinstance(outputs, dict):
        raise invalid_arguments("outputs must be an object")
    problems = output_problems(execution.output_parameters, outputs)
    if problems:
        raise SlackError(
            "parameter_validation_failed",
            response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
        )
    execution.state, execution.outputs = "completed", outputs
    return {}


@api("functions.completeError")
def functions_complete_error(self: WebApi, call: Call) -> JSON:
    execution = _running(self, call)
    error = call.text("error")
    if not error:
        raise invalid_arguments("missing required field: error")
    execution.state, execution.error = "failed", error
    return {}


def output_problems(declared: JSON | None, outputs: JSON) -> list[str]:
    """What is wrong with ``outputs`` for a function declaring ``declared``."""
    if declared is None:
        return []
    problems = [f"unknown output parameter: {name}" for name in outputs if name not in declared]
    for name, spec in declared.items():
        if name not in outputs or outputs[name] is None:
            if spec.get("is_required"):
                problems.append(f"missing required output parameter: {name}")
            continue
        if not _fits(spec, outputs[name]):
            problems.append(f"{name}: not a value of type {spec.get('type')}")
    return problems


def _fits(spec: JSON, value: Any) -> bool:
    kind = str(spec.get("type", "string"))
    if kind == "array":
        items = spec.get("items") or {}
        return isinstance(value, list) and all(_fits(items, v) for v in value)
    if kind in ("integer", "number"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if kind == "slack#/types/user_id":
        return value[:1] in ("U", "W")
    if kind == "slack#/types/channel_id":
        return value[:1] in ("C", "G", "D")
    if kind == "slack#/types/date":
        return bool(_DATE.match(value))
    return True
