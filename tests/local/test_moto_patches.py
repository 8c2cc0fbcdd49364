"""Every place the local stack patches moto (or Powertools) still exists with the shape it patches.

moto's internals are not an API: an upgrade can move them. Each row names the patch that depends
on the target, so a failure says which local-stack behaviour broke and where to look, before any
behaviour test fails in a less obvious way.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

SFN = "moto.stepfunctions.parser"
TASK = f"{SFN}.asl.component.state.exec.state_task"

# (patch in snacks/local, module, attribute path, parameters the patch relies on)
TARGETS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("moto_tuning.cached_task_clients", f"{SFN}.asl.utils.boto_client", "boto_client_for", ("region", "service")),
    ("moto_tuning.atomic_dynamodb", "moto.dynamodb.responses", "DynamoHandler.call_action", ()),
    ("moto_tuning.parsed_definitions_cached", f"{SFN}.backend.execution_worker",
     "ExecutionWorker._get_evaluation_entrypoint", ()),
    ("moto_tuning.compiled_json_paths_cached", f"{SFN}.asl.utils.json_path", "parse", ()),
    ("moto_tuning.compiled_json_paths_cached", f"{SFN}.asl.component.common.path.result_path", "parse", ()),
    ("moto_tuning.generated_execution_names", f"{SFN}.models", "StepFunctionsParserBackend.start_execution",
     ("state_machine_arn", "name", "execution_input")),
    ("moto_tuning.attribute_aliases_cached", "moto.core.serialize", "XFormedAttributePicker.get_possible_keys", ()),
    ("moto_tuning.attribute_aliases_cached", "moto.core.serialize", "ResponseSerializer.get_value", ()),
    ("moto_tuning.handler_methods_cached", "moto.core.responses", "method_names_from_class", ()),
    ("moto_tuning.update_expressions_cached", "moto.dynamodb.parsing.expressions", "UpdateExpressionParser.make", ()),
    ("moto_tuning.server_hosts_cached", "moto.moto_server.werkzeug_app",
     "DomainDispatcherApplication.get_backend_for_host", ()),
    ("moto_tuning.update_expression_traversal_cached", "moto.dynamodb.parsing.ast_nodes",
     "DepthFirstTraverser.nodes_to_be_processed", ()),
    ("moto_tuning.update_expression_traversal_streamlined", "moto.dynamodb.parsing.ast_nodes",
     "DepthFirstTraverser.traverse_node_recursively", ("node", "child_id")),
    ("moto_tuning.update_expression_traversal_streamlined", "moto.dynamodb.parsing.ast_nodes",
     "DepthFirstTraverser.pre_processing_of_child", ("parent_node", "child_id")),
    ("moto_tuning.condition_expressions_lexed_once", "moto.dynamodb.comparisons",
     "ConditionExpressionParser._lex_condition_expression", ()),
    ("moto_tuning.update_expression_copies_unpickled", "moto.dynamodb.parsing.validators", "deepcopy", ()),
    ("moto_tuning.update_expression_copies_unpickled", "moto.dynamodb.parsing.ast_nodes", "UpdateExpression", ()),
    ("moto_tuning.in_process_routes_cached", "moto.core.botocore_stubber", "BotocoreStubber.process_request",
     ("request",)),
    ("moto_tuning.in_process_routes_cached", "moto.backend_index", "backend_url_patterns", ()),
    ("moto_tuning.in_process_routes_cached", "moto.core.request", "normalize_request", ()),
    ("moto_tuning.in_process_routes_cached", "moto.core.utils", "get_equivalent_url_in_aws_domain", ()),
    ("moto_tuning.in_process_routes_cached", "moto.core.config", "passthrough_url", ()),
    ("moto_tuning.in_process_routes_cached", "moto.core.config", "passthrough_service", ()),
    ("moto_tuning.in_process_routes_cached", "moto.core.config", "service_whitelisted", ()),
    ("moto_tuning.in_process_routes_cached", "moto.moto_api", "recorder", ()),
    ("moto_tuning.execution_names_indexed", "moto.stepfunctions.models",
     "StateMachine._handle_name_input_idempotency", ("name", "execution_input")),
    ("lambda_runtime.InProcessLambda.installed (Invoke API)", "moto.awslambda.models", "LambdaFunction.invoke",
     ("body", "request_headers", "response_headers")),
    ("lambda_runtime.invoke_answers_as_lambda_words_them", "moto.awslambda.models", "LambdaBackend.invoke",
     ("function_name", "qualifier", "body", "headers", "response_headers")),
    ("lambda_runtime.invoke_answers_as_lambda_words_them", "moto.core.responses", "BaseResponse._enrich_response",
     ("headers", "body")),
    ("lambda_runtime.invoke_answers_as_lambda_words_them", "moto.awslambda.responses", "LambdaResponse", ()),
    ("lambda_runtime.invoke_answers_as_lambda_words_them", "moto.awslambda.exceptions", "UnknownFunctionException",
     ("arn",)),
    ("lambda_runtime.DirectInvokeClient", f"{TASK}.lambda_eval_utils", "boto_client_for", ()),
    ("lambda_runtime (per-function cold start)", "aws_lambda_powertools.logging.logger", "_is_cold_start", ()),
    ("lambda_runtime (per-function cold start)", "aws_lambda_powertools.tracing.tracer", "_is_cold_start", ()),
    ("lambda_runtime.lambda_timeouts_reported_as_step_functions_does", f"{TASK}.state_task_lambda",
     "StateTaskLambda._from_error", ("env", "ex")),
    ("lambda_runtime.lambda_timeouts_reported_as_step_functions_does", f"{TASK}.lambda_eval_utils",
     "LambdaFunctionErrorException", ("function_error", "payload")),
    ("sfn_semantics.states_runtime_is_fatal", f"{SFN}.asl.component.state.exec.execute_state",
     "ExecutionState._from_error", ("env", "ex")),
    ("sfn_semantics.states_runtime_is_fatal", f"{SFN}.asl.component.state.exec.execute_state",
     "ExecutionState._handle_retry", ("env", "failure_event")),
    ("sfn_semantics.states_runtime_is_fatal", f"{SFN}.asl.component.state.exec.execute_state",
     "ExecutionState._handle_catch", ("env", "failure_event")),
    ("sfn_semantics.states_runtime_is_fatal", f"{SFN}.asl.utils.json_path", "NoSuchJsonPathError", ()),
    ("sfn_semantics.states_runtime_is_fatal", f"{SFN}.asl.component.common.string.string_expression",
     "StringJsonPath._eval_body", ("env",)),
    ("sfn_semantics.states_runtime_is_fatal", f"{SFN}.asl.eval.environment", "Environment.next_field_name", ()),
    ("sfn_semantics.start_sync_execution_served", "moto.stepfunctions.responses", "StepFunctionResponse", ()),
    ("sfn_semantics.service_errors_fail_the_task", f"{TASK}.service.state_task_service_events",
     "StateTaskServiceEvents._from_error", ("env", "ex")),
    ("iam_enforcement.Enforcer.installed", f"{SFN}.backend.execution_worker", "ExecutionWorker.start", ()),
    ("iam_enforcement.Enforcer.installed", f"{SFN}.backend.execution_worker", "SyncExecutionWorker.start", ()),
    ("iam_enforcement.Enforcer.installed", f"{SFN}.backend.execution_worker", "Thread", ()),
    ("iam_enforcement.Enforcer.installed", f"{SFN}.asl.component.state.exec.execute_state", "Thread", ()),
    ("express.express_semantics", f"{SFN}.backend.execution", "Execution.__init__",
     ("name", "exec_arn", "account_id", "region_name", "state_machine", "cloud_watch_logging_session")),
    ("express.express_semantics", "moto.stepfunctions.models", "StateMachine._handle_name_input_idempotency",
     ("name", "execution_input")),
    ("express.express_semantics", f"{SFN}.asl.eval.event.logging", "is_logging_enabled_for",
     ("log_level", "history_event_type")),
    ("express.express_semantics", "moto.stepfunctions.responses", "StepFunctionResponse.list_executions", ()),
    ("express.express_semantics", "moto.stepfunctions.responses", "StepFunctionResponse.describe_execution", ()),
    ("express.express_semantics", "moto.stepfunctions.responses", "StepFunctionResponse.stop_execution", ()),
    ("express.express_semantics", "moto.stepfunctions.responses", "StepFunctionResponse.get_execution_history", ()),
    ("logs_filters.json_filter_patterns", "moto.logs.utils", "EventMessageFilter.__init__", ("pattern",)),
    ("eventbridge_api.test_event_pattern_served", "moto.events.responses", "EventsHandler.test_event_pattern", ()),
    ("eventbridge_api.test_event_pattern_served", "moto.events.models", "EventPattern.load", ("raw_pattern",)),
    ("eventbridge_api.malformed_details_refused", "moto.events.models", "EventsBackend.put_events", ("events",)),
    ("eventbridge_api.undefined_placeholders_refused", "moto.events.models", "EventsBackend.put_targets",
     ("name", "event_bus_arn", "targets")),
    ("event_delivery.StepFunctionsTargetDelivery.installed", "moto.events.models", "Rule.send_to_targets",
     ("original_event", "transform_input")),
    ("http_door.installed", "moto.moto_server.werkzeug_app", "DomainDispatcherApplication.__call__",
     ("environ", "start_response")),
    ("stack._Server", "moto.moto_server.werkzeug_app", "create_backend_app", ()),
    ("stack._Server", "moto.moto_server.werkzeug_app", "MotoRequestHandler", ()),
    ("virtual_time.virtual_workflow_time", f"{SFN}.asl.component.common.retry.retrier_decl", "RetrierDecl._eval_body",
     ("env",)),
    ("virtual_time.virtual_workflow_time", f"{SFN}.asl.component.common.retry.retrier_decl", "RetrierDecl.__init__",
     ("error_equals", "interval_seconds", "max_attempts", "backoff_rate", "max_delay_seconds", "jitter_strategy")),
    ("virtual_time.virtual_workflow_time", f"{SFN}.asl.component.common.retry.retrier_outcome", "RetrierOutcome", ()),
    ("virtual_time.virtual_workflow_time", f"{SFN}.asl.component.common.retry.max_attempts_decl",
     "MaxAttemptsOutcome.EXHAUSTED", ()),
    ("virtual_time.virtual_workflow_time", f"{SFN}.asl.component.state.wait.wait_function.wait_function",
     "WaitFunction._wait_interval", ("env", "wait_seconds")),
    ("virtual_time.virtual_workflow_time", f"{SFN}.asl.eval.event.event_manager", "EventManager.add_event",
     ("context", "event_type", "event_details", "timestamp")),
]  # fmt: skip


@pytest.mark.parametrize(("patch", "module", "path", "parameters"), TARGETS, ids=[f"{t[0]}:{t[2]}" for t in TARGETS])
def test_patched_target_still_exists(patch: str, module: str, path: str, parameters: tuple[str, ...]) -> None:
    where = f"snacks/local/{patch.split('.')[0]}.py ({patch}) patches {module}.{path}"
    try:
        target: object = importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{where}, but the module is gone: {error}")
    for name in path.split("."):
        assert hasattr(target, name), f"{where}, but {name!r} no longer exists: moto's internals moved"
        target = getattr(target, name)
    if parameters:
        signature = inspect.signature(target)  # type: ignore[arg-type]
        missing = [p for p in parameters if p not in signature.parameters]
        assert not missing, f"{where}, but its signature lost {missing}: {signature}"


def test_start_sync_execution_is_still_ours_to_add() -> None:
    """If moto implements StartSyncExecution, sfn_semantics.start_sync_execution_served should go."""
    from moto.stepfunctions.responses import StepFunctionResponse

    assert not hasattr(StepFunctionResponse, "start_sync_execution"), (
        "moto now has StepFunctionResponse.start_sync_execution: drop sfn_semantics.start_sync_execution_served"
    )


def test_the_virtual_retrier_evaluates_what_motos_retrier_evaluates() -> None:
    """virtual_time replaces moto's RetrierDecl._eval_body with a copy that records instead of
    sleeping; if moto's body changed (another component, another order), the copy is stale."""
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl

    from snacks.local import virtual_time

    def evaluated(source: str) -> list[str]:
        return re.findall(r"self\.(\w+)\.eval\(", source)

    moto_body = inspect.getsource(RetrierDecl._eval_body)
    ours = inspect.getsource(virtual_time.virtual_workflow_time)
    assert evaluated(moto_body) == evaluated(ours)
    assert "time.sleep(interval_seconds)" in moto_body  # the one line the copy changes
