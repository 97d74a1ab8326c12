/** `ListProcessors`: every registered processor (built-ins and plugins) with its parameters. */
import { inject, injectable } from 'tsyringe';
import {
  ParamType as WireParamType,
  type ListProcessorsRequest,
  type ListProcessorsResponse,
} from '../gen/stepwise/v1/stepwise.js';
import { ProcessorRegistry } from '../processors/registry.js';
import type { ParamType } from '../processors/types.js';
import { LOGGER } from '../tokens.js';
import type { Logger } from './logger.js';
import { unaryHandler } from './unary-call.js';

const WIRE_PARAM_TYPES: Readonly<Record<ParamType, WireParamType>> = {
  float: WireParamType.PARAM_TYPE_FLOAT,
  int: WireParamType.PARAM_TYPE_INT,
  bool: WireParamType.PARAM_TYPE_BOOL,
  string: WireParamType.PARAM_TYPE_STRING,
  int_list: WireParamType.PARAM_TYPE_INT_LIST,
  string_list: WireParamType.PARAM_TYPE_STRING_LIST,
  int_list_list: WireParamType.PARAM_TYPE_INT_LIST_LIST,
  sequence_bias_list: WireParamType.PARAM_TYPE_SEQUENCE_BIAS_LIST,
  int_map: WireParamType.PARAM_TYPE_INT_MAP,
};

@injectable()
export class ListProcessorsHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof unaryHandler<ListProcessorsRequest, ListProcessorsResponse>>;

  constructor(
    @inject(ProcessorRegistry) private readonly registry: ProcessorRegistry,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = unaryHandler('ListProcessors', logger, (request: ListProcessorsRequest) => this.list(request));
  }

  list(_request?: ListProcessorsRequest): ListProcessorsResponse {
    return {
      processors: this.registry.describe().map((processor) => ({
        name: processor.name,
        description: processor.description,
        parameters: processor.parameters.map((parameter) => ({
          name: parameter.name,
          type: WIRE_PARAM_TYPES[parameter.type],
          description: parameter.description,
          required: parameter.required,
          range: parameter.range,
          defaultValue: parameter.defaultValue,
        })),
      })),
    };
  }
}
