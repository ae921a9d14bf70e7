"""The script engine SpiffWorkflow runs every condition, DMN entry and service call through."""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from sqlalchemy.exc import DBAPIError

from engine import expressions
from engine.catalog import OPERATIONS, OperationContext
from engine.errors import ExpressionError, OperationFailed


class _SafeEnvironment(BasePythonScriptEngineEnvironment):
    def __init__(self, context: OperationContext | None) -> None:
        super().__init__({})
        self.context = context

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        return expressions.evaluate(expression, context, external_context)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        raise ExpressionError(script, "script tasks are not allowed; use a service task or a DMN table")

    def call_service(self, context: dict[str, Any], operation_name: str, operation_params: dict[str, Any],
                     **_: Any) -> str:
        operation = OPERATIONS.get(operation_name)
        if operation is None:
            raise OperationFailed(operation_name, "no such operation")
        if self.context is None:
            raise OperationFailed(operation_name, "no operation context")
        params = {name: param["value"] for name, param in operation_params.items()}
        self.context.data = context
        try:
            result = operation(self.context, **params)
        except (OperationFailed, DBAPIError):  # the database's refusals are the unit of work's to answer
            raise
        except Exception as err:  # caught here: SpiffWorkflow would turn it into a confusing NameError
            raise OperationFailed(operation_name, f"{type(err).__name__}: {err}") from err
        return json.dumps(result)


class SafeScriptEngine(PythonScriptEngine):
    """Evaluates only allow-listed expressions and calls only registered operations."""

    def __init__(self, context: OperationContext | None = None) -> None:
        super().__init__(environment=_SafeEnvironment(context))

    def validate(self, expression: str) -> None:
        try:
            expressions.validate(expression)
        except ExpressionError as err:
            # DMN's engine probes entries such as "< 5" by catching SyntaxError.
            raise SyntaxError(err.reason) from err

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        return expressions.evaluate(expression, task.data, external_context)

    def call_service(self, task: Any, **kwargs: Any) -> str:
        return self.environment.call_service(task.data, **kwargs)
