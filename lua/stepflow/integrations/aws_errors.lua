--- AWS's names for the errors of service integrations, so that Retry and
-- Catch written for AWS match: an optimized integration fails with
-- `<Prefix>.<Exception>` ("DynamoDB.ResourceNotFoundException") and a
-- cause in the Java SDK v1 form; an AWS SDK integration with
-- `<ServiceClass>.<Code>Exception` ("S3.NoSuchKeyException") and a cause
-- in the SDK v2 form.
local errors = require("stepflow.errors")

local M = {}

-- Optimized integrations: error prefix, SDK v1 service name, and the
-- service's base exception (what AWS names an error the SDK does not model).
local OPTIMIZED = {
  lambda = { "Lambda", "AWSLambda", "AWSLambdaException" },
  dynamodb = { "DynamoDB", "AmazonDynamoDBv2", "AmazonDynamoDBException" },
  sqs = { "SQS", "AmazonSQS", "AmazonSQSException" },
  sns = { "SNS", "AmazonSNS", "AmazonSNSException" },
  states = { "StepFunctions", "AWSStepFunctions", "AWSStepFunctionsException" },
  events = { "EventBridge", "AmazonEventBridge", "AmazonEventBridgeException" },
  ecs = { "ECS", "AmazonECS", "AmazonECSException" },
  batch = { "Batch", "AWSBatch", "AWSBatchException" },
  glue = { "Glue", "AWSGlue", "AWSGlueException" },
  athena = { "Athena", "AmazonAthena", "AmazonAthenaException" },
  codebuild = { "CodeBuild", "AWSCodeBuild", "AWSCodeBuildException" },
  sagemaker = { "SageMaker", "AmazonSageMaker", "AmazonSageMakerException" },
}

-- AWS SDK integrations: the SDK v2 client's name for a service id, where
-- it is not the id with its first letter upper-cased.
local SDK_CLASS = {
  dynamodb = "DynamoDb", sfn = "Sfn", secretsmanager = "SecretsManager", eventbridge = "EventBridge",
  cloudwatch = "CloudWatch", cloudwatchlogs = "CloudWatchLogs", apigateway = "ApiGateway",
  codebuild = "CodeBuild", kinesis = "Kinesis", firehose = "Firehose", sagemaker = "SageMaker",
  ssm = "Ssm", sts = "Sts", iam = "Iam", ec2 = "Ec2", ecs = "Ecs", eks = "Eks", ecr = "Ecr",
  rds = "Rds", sqs = "Sqs", sns = "Sns", kms = "Kms", acm = "Acm", emr = "Emr", mq = "Mq",
  cloudformation = "CloudFormation", elasticache = "ElastiCache", stepfunctions = "Sfn",
}

local function capitalize(s)
  return (s:gsub("^%l", string.upper))
end

local function with_exception(code)
  if code:sub(-9) == "Exception" then return code end
  return code .. "Exception"
end

--- The error prefix of a service ("DynamoDB", "S3", ...), as an error
-- named for it starts. `spec` (an integration table, optional) may give
-- error_prefix.
function M.prefix(service, sdk_service, spec)
  if spec and spec.error_prefix then return spec.error_prefix end
  if sdk_service then return SDK_CLASS[sdk_service] or capitalize(sdk_service) end
  local o = OPTIMIZED[service]
  if o then return o[1] end
  return capitalize(service)
end

--- An ASL error value for a service's error, named and worded as AWS
-- does. `info` is the parsed Resource (service, sdk_service); opts:
--   code        the service's error code ("ResourceNotFoundException",
--               "NoSuchKey", "ValidationException")
--   message     its message
--   status      the HTTP status (default 400)
--   exception   the exception class AWS names the error by, when it is
--               not the code (an optimized integration names an error
--               its SDK does not model by the base exception:
--               "AmazonDynamoDBException")
--   request_id  (default a fresh UUID from `engine`)
--   spec        the integration table (its error_prefix, service_name)
function M.service_error(info, engine, opts)
  local code = opts.code
  if type(code) ~= "string" or code == "" then
    error("ctx.error: the error code must be a non-empty string", 3)
  end
  local message = opts.message ~= nil and tostring(opts.message) or ""
  local status = opts.status or 400
  local rid = opts.request_id or (engine and engine:_uuid()) or "00000000-0000-0000-0000-000000000000"
  local spec = opts.spec
  local service, sdk = info.service, info.sdk_service
  if sdk then
    local class = M.prefix(service, sdk, spec)
    return errors.new(class .. "." .. (opts.exception or with_exception(code)),
      message .. " (Service: " .. class .. ", Status Code: " .. status .. ", Request ID: " .. rid .. ")")
  end
  local o = OPTIMIZED[service]
  if o or (spec and spec.service_name) then
    local prefix = M.prefix(service, nil, spec)
    local sdk_name = spec and spec.service_name or o[2]
    return errors.new(prefix .. "." .. (opts.exception or with_exception(code)),
      message .. " (Service: " .. sdk_name .. "; Status Code: " .. status .. "; Error Code: " ..
      code .. "; Request ID: " .. rid .. "; Proxy: null)")
  end
  -- a service AWS does not have: the code as it is, after the prefix
  return errors.new(M.prefix(service, nil, spec) .. "." .. (opts.exception or code), message)
end

--- The base exception of an optimized service ("AmazonSQSException"), or nil.
function M.base_exception(service)
  local o = OPTIMIZED[service]
  return o and o[3]
end

return M
