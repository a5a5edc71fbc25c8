"""The protocol buffer messages of a graph file, from SavedModel down.

Generated from TensorFlow's own descriptors by ``tox -e registry``; do not edit.
Each message maps a field number to ``[name, kind, repeated, oneof, message, map]``.
A string of a proto2 file is ``bytes``: protobuf checks UTF-8 in proto3 files only.
``SINCE`` gives the release that added a field, for fields 2.12 lacks.
"""

# fmt: off
SCHEMA: dict[str, dict[int, list]] = {
    'google.protobuf.Any': {
        1: ['type_url', 'string', False, None, None, False],
        2: ['value', 'bytes', False, None, None, False],
    },
    'tensorflow.AssetFileDef': {
        1: ['tensor_info', 'message', False, None, 'tensorflow.TensorInfo', False],
        2: ['filename', 'string', False, None, None, False],
    },
    'tensorflow.AttrValue': {
        1: ['list', 'message', False, 'value', 'tensorflow.AttrValue.ListValue', False],
        2: ['s', 'bytes', False, 'value', None, False],
        3: ['i', 'int64', False, 'value', None, False],
        4: ['f', 'float', False, 'value', None, False],
        5: ['b', 'bool', False, 'value', None, False],
        6: ['type', 'enum', False, 'value', None, False],
        7: ['shape', 'message', False, 'value', 'tensorflow.TensorShapeProto', False],
        8: ['tensor', 'message', False, 'value', 'tensorflow.TensorProto', False],
        9: ['placeholder', 'string', False, 'value', None, False],
        10: ['func', 'message', False, 'value', 'tensorflow.NameAttrList', False],
    },
    'tensorflow.AttrValue.ListValue': {
        2: ['s', 'bytes', True, None, None, False],
        3: ['i', 'int64', True, None, None, False],
        4: ['f', 'float', True, None, None, False],
        5: ['b', 'bool', True, None, None, False],
        6: ['type', 'enum', True, None, None, False],
        7: ['shape', 'message', True, None, 'tensorflow.TensorShapeProto', False],
        8: ['tensor', 'message', True, None, 'tensorflow.TensorProto', False],
        9: ['func', 'message', True, None, 'tensorflow.NameAttrList', False],
    },
    'tensorflow.BoundedTensorSpecProto': {
        1: ['name', 'string', False, None, None, False],
        2: ['shape', 'message', False, None, 'tensorflow.TensorShapeProto', False],
        3: ['dtype', 'enum', False, None, None, False],
        4: ['minimum', 'message', False, None, 'tensorflow.TensorProto', False],
        5: ['maximum', 'message', False, None, 'tensorflow.TensorProto', False],
    },
    'tensorflow.CapturedTensor': {
        1: ['name', 'string', False, None, None, False],
        2: ['concrete_function', 'string', False, None, None, False],
    },
    'tensorflow.CollectionDef': {
        1: ['node_list', 'message', False, 'kind', 'tensorflow.CollectionDef.NodeList', False],
        2: ['bytes_list', 'message', False, 'kind', 'tensorflow.CollectionDef.BytesList', False],
        3: ['int64_list', 'message', False, 'kind', 'tensorflow.CollectionDef.Int64List', False],
        4: ['float_list', 'message', False, 'kind', 'tensorflow.CollectionDef.FloatList', False],
        5: ['any_list', 'message', False, 'kind', 'tensorflow.CollectionDef.AnyList', False],
    },
    'tensorflow.CollectionDef.AnyList': {
        1: ['value', 'message', True, None, 'google.protobuf.Any', False],
    },
    'tensorflow.CollectionDef.BytesList': {
        1: ['value', 'bytes', True, None, None, False],
    },
    'tensorflow.CollectionDef.FloatList': {
        1: ['value', 'float', True, None, None, False],
    },
    'tensorflow.CollectionDef.Int64List': {
        1: ['value', 'int64', True, None, None, False],
    },
    'tensorflow.CollectionDef.NodeList': {
        1: ['value', 'string', True, None, None, False],
    },
    'tensorflow.DictValue': {
        1: ['fields', 'message', True, None, 'tensorflow.DictValue.FieldsEntry', True],
    },
    'tensorflow.DictValue.FieldsEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.StructuredValue', False],
    },
    'tensorflow.FullTypeDef': {
        1: ['type_id', 'enum', False, None, None, False],
        2: ['args', 'message', True, None, 'tensorflow.FullTypeDef', False],
        3: ['s', 'string', False, 'attr', None, False],
        4: ['i', 'int64', False, 'attr', None, False],
    },
    'tensorflow.FunctionDef': {
        1: ['signature', 'message', False, None, 'tensorflow.OpDef', False],
        3: ['node_def', 'message', True, None, 'tensorflow.NodeDef', False],
        4: ['ret', 'message', True, None, 'tensorflow.FunctionDef.RetEntry', True],
        5: ['attr', 'message', True, None, 'tensorflow.FunctionDef.AttrEntry', True],
        6: ['control_ret', 'message', True, None, 'tensorflow.FunctionDef.ControlRetEntry', True],
        7: ['arg_attr', 'message', True, None, 'tensorflow.FunctionDef.ArgAttrEntry', True],
        8: ['resource_arg_unique_id', 'message', True, None, 'tensorflow.FunctionDef.ResourceArgUniqueIdEntry', True],
    },
    'tensorflow.FunctionDef.ArgAttrEntry': {
        1: ['key', 'uint32', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.FunctionDef.ArgAttrs', False],
    },
    'tensorflow.FunctionDef.ArgAttrs': {
        1: ['attr', 'message', True, None, 'tensorflow.FunctionDef.ArgAttrs.AttrEntry', True],
    },
    'tensorflow.FunctionDef.ArgAttrs.AttrEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.AttrValue', False],
    },
    'tensorflow.FunctionDef.AttrEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.AttrValue', False],
    },
    'tensorflow.FunctionDef.ControlRetEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'string', False, None, None, False],
    },
    'tensorflow.FunctionDef.ResourceArgUniqueIdEntry': {
        1: ['key', 'uint32', False, None, None, False],
        2: ['value', 'uint32', False, None, None, False],
    },
    'tensorflow.FunctionDef.RetEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'string', False, None, None, False],
    },
    'tensorflow.FunctionDefLibrary': {
        1: ['function', 'message', True, None, 'tensorflow.FunctionDef', False],
        2: ['gradient', 'message', True, None, 'tensorflow.GradientDef', False],
        3: ['registered_gradients', 'message', True, None, 'tensorflow.RegisteredGradient', False],
    },
    'tensorflow.FunctionSpec': {
        1: ['fullargspec', 'message', False, None, 'tensorflow.StructuredValue', False],
        2: ['is_method', 'bool', False, None, None, False],
        5: ['input_signature', 'message', False, None, 'tensorflow.StructuredValue', False],
        6: ['jit_compile', 'enum', False, None, None, False],
    },
    'tensorflow.GradientDef': {
        1: ['function_name', 'string', False, None, None, False],
        2: ['gradient_func', 'string', False, None, None, False],
    },
    'tensorflow.GraphDebugInfo': {
        1: ['files', 'bytes', True, None, None, False],
        2: ['traces', 'message', True, None, 'tensorflow.GraphDebugInfo.TracesEntry', True],
        4: ['frames_by_id', 'message', True, None, 'tensorflow.GraphDebugInfo.FramesByIdEntry', True],
        5: ['name_to_trace_id', 'message', True, None, 'tensorflow.GraphDebugInfo.NameToTraceIdEntry', True],
        6: ['traces_by_id', 'message', True, None, 'tensorflow.GraphDebugInfo.TracesByIdEntry', True],
    },
    'tensorflow.GraphDebugInfo.FileLineCol': {
        1: ['file_index', 'int32', False, None, None, False],
        2: ['line', 'int32', False, None, None, False],
        3: ['col', 'int32', False, None, None, False],
        4: ['func', 'bytes', False, None, None, False],
        5: ['code', 'bytes', False, None, None, False],
    },
    'tensorflow.GraphDebugInfo.FramesByIdEntry': {
        1: ['key', 'fixed64', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.GraphDebugInfo.FileLineCol', False],
    },
    'tensorflow.GraphDebugInfo.NameToTraceIdEntry': {
        1: ['key', 'bytes', False, None, None, False],
        2: ['value', 'fixed64', False, None, None, False],
    },
    'tensorflow.GraphDebugInfo.StackTrace': {
        1: ['file_line_cols', 'message', True, None, 'tensorflow.GraphDebugInfo.FileLineCol', False],
        2: ['frame_id', 'fixed64', True, None, None, False],
    },
    'tensorflow.GraphDebugInfo.TracesByIdEntry': {
        1: ['key', 'fixed64', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.GraphDebugInfo.StackTrace', False],
    },
    'tensorflow.GraphDebugInfo.TracesEntry': {
        1: ['key', 'bytes', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.GraphDebugInfo.StackTrace', False],
    },
    'tensorflow.GraphDef': {
        1: ['node', 'message', True, None, 'tensorflow.NodeDef', False],
        2: ['library', 'message', False, None, 'tensorflow.FunctionDefLibrary', False],
        3: ['version', 'int32', False, None, None, False],
        4: ['versions', 'message', False, None, 'tensorflow.VersionDef', False],
        5: ['debug_info', 'message', False, None, 'tensorflow.GraphDebugInfo', False],
    },
    'tensorflow.ListValue': {
        1: ['values', 'message', True, None, 'tensorflow.StructuredValue', False],
    },
    'tensorflow.MetaGraphDef': {
        1: ['meta_info_def', 'message', False, None, 'tensorflow.MetaGraphDef.MetaInfoDef', False],
        2: ['graph_def', 'message', False, None, 'tensorflow.GraphDef', False],
        3: ['saver_def', 'message', False, None, 'tensorflow.SaverDef', False],
        4: ['collection_def', 'message', True, None, 'tensorflow.MetaGraphDef.CollectionDefEntry', True],
        5: ['signature_def', 'message', True, None, 'tensorflow.MetaGraphDef.SignatureDefEntry', True],
        6: ['asset_file_def', 'message', True, None, 'tensorflow.AssetFileDef', False],
        7: ['object_graph_def', 'message', False, None, 'tensorflow.SavedObjectGraph', False],
    },
    'tensorflow.MetaGraphDef.CollectionDefEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.CollectionDef', False],
    },
    'tensorflow.MetaGraphDef.MetaInfoDef': {
        1: ['meta_graph_version', 'string', False, None, None, False],
        2: ['stripped_op_list', 'message', False, None, 'tensorflow.OpList', False],
        3: ['any_info', 'message', False, None, 'google.protobuf.Any', False],
        4: ['tags', 'string', True, None, None, False],
        5: ['tensorflow_version', 'string', False, None, None, False],
        6: ['tensorflow_git_version', 'string', False, None, None, False],
        7: ['stripped_default_attrs', 'bool', False, None, None, False],
        8: ['function_aliases', 'message', True, None, 'tensorflow.MetaGraphDef.MetaInfoDef.FunctionAliasesEntry', True],
    },
    'tensorflow.MetaGraphDef.MetaInfoDef.FunctionAliasesEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'string', False, None, None, False],
    },
    'tensorflow.MetaGraphDef.SignatureDefEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.SignatureDef', False],
    },
    'tensorflow.NameAttrList': {
        1: ['name', 'string', False, None, None, False],
        2: ['attr', 'message', True, None, 'tensorflow.NameAttrList.AttrEntry', True],
    },
    'tensorflow.NameAttrList.AttrEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.AttrValue', False],
    },
    'tensorflow.NamedTupleValue': {
        1: ['name', 'string', False, None, None, False],
        2: ['values', 'message', True, None, 'tensorflow.PairValue', False],
    },
    'tensorflow.NodeDef': {
        1: ['name', 'string', False, None, None, False],
        2: ['op', 'string', False, None, None, False],
        3: ['input', 'string', True, None, None, False],
        4: ['device', 'string', False, None, None, False],
        5: ['attr', 'message', True, None, 'tensorflow.NodeDef.AttrEntry', True],
        6: ['experimental_debug_info', 'message', False, None, 'tensorflow.NodeDef.ExperimentalDebugInfo', False],
        7: ['experimental_type', 'message', False, None, 'tensorflow.FullTypeDef', False],
    },
    'tensorflow.NodeDef.AttrEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.AttrValue', False],
    },
    'tensorflow.NodeDef.ExperimentalDebugInfo': {
        1: ['original_node_names', 'string', True, None, None, False],
        2: ['original_func_names', 'string', True, None, None, False],
    },
    'tensorflow.NoneValue': {
    },
    'tensorflow.OpDef': {
        1: ['name', 'string', False, None, None, False],
        2: ['input_arg', 'message', True, None, 'tensorflow.OpDef.ArgDef', False],
        3: ['output_arg', 'message', True, None, 'tensorflow.OpDef.ArgDef', False],
        4: ['attr', 'message', True, None, 'tensorflow.OpDef.AttrDef', False],
        5: ['summary', 'string', False, None, None, False],
        6: ['description', 'string', False, None, None, False],
        8: ['deprecation', 'message', False, None, 'tensorflow.OpDeprecation', False],
        16: ['is_aggregate', 'bool', False, None, None, False],
        17: ['is_stateful', 'bool', False, None, None, False],
        18: ['is_commutative', 'bool', False, None, None, False],
        19: ['allows_uninitialized_input', 'bool', False, None, None, False],
        20: ['control_output', 'string', True, None, None, False],
        21: ['is_distributed_communication', 'bool', False, None, None, False],
    },
    'tensorflow.OpDef.ArgDef': {
        1: ['name', 'string', False, None, None, False],
        2: ['description', 'string', False, None, None, False],
        3: ['type', 'enum', False, None, None, False],
        4: ['type_attr', 'string', False, None, None, False],
        5: ['number_attr', 'string', False, None, None, False],
        6: ['type_list_attr', 'string', False, None, None, False],
        7: ['handle_data', 'message', True, None, 'tensorflow.ResourceHandleProto.DtypeAndShape', False],
        16: ['is_ref', 'bool', False, None, None, False],
        17: ['experimental_full_type', 'message', False, None, 'tensorflow.FullTypeDef', False],
    },
    'tensorflow.OpDef.AttrDef': {
        1: ['name', 'string', False, None, None, False],
        2: ['type', 'string', False, None, None, False],
        3: ['default_value', 'message', False, None, 'tensorflow.AttrValue', False],
        4: ['description', 'string', False, None, None, False],
        5: ['has_minimum', 'bool', False, None, None, False],
        6: ['minimum', 'int64', False, None, None, False],
        7: ['allowed_values', 'message', False, None, 'tensorflow.AttrValue', False],
    },
    'tensorflow.OpDeprecation': {
        1: ['version', 'int32', False, None, None, False],
        2: ['explanation', 'string', False, None, None, False],
    },
    'tensorflow.OpList': {
        1: ['op', 'message', True, None, 'tensorflow.OpDef', False],
    },
    'tensorflow.PairValue': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.StructuredValue', False],
    },
    'tensorflow.RegisteredGradient': {
        1: ['gradient_func', 'string', False, None, None, False],
        2: ['registered_op_type', 'string', False, None, None, False],
    },
    'tensorflow.ResourceHandleProto': {
        1: ['device', 'string', False, None, None, False],
        2: ['container', 'string', False, None, None, False],
        3: ['name', 'string', False, None, None, False],
        4: ['hash_code', 'uint64', False, None, None, False],
        5: ['maybe_type_name', 'string', False, None, None, False],
        6: ['dtypes_and_shapes', 'message', True, None, 'tensorflow.ResourceHandleProto.DtypeAndShape', False],
    },
    'tensorflow.ResourceHandleProto.DtypeAndShape': {
        1: ['dtype', 'enum', False, None, None, False],
        2: ['shape', 'message', False, None, 'tensorflow.TensorShapeProto', False],
    },
    'tensorflow.SaveableObject': {
        2: ['save_function', 'int32', False, None, None, False],
        3: ['restore_function', 'int32', False, None, None, False],
    },
    'tensorflow.SavedAsset': {
        1: ['asset_file_def_index', 'int32', False, None, None, False],
    },
    'tensorflow.SavedBareConcreteFunction': {
        1: ['concrete_function_name', 'string', False, None, None, False],
        2: ['argument_keywords', 'string', True, None, None, False],
        3: ['allowed_positional_arguments', 'int64', False, None, None, False],
        4: ['function_spec', 'message', False, None, 'tensorflow.FunctionSpec', False],
    },
    'tensorflow.SavedConcreteFunction': {
        2: ['bound_inputs', 'int32', True, None, None, False],
        3: ['canonicalized_input_signature', 'message', False, None, 'tensorflow.StructuredValue', False],
        4: ['output_signature', 'message', False, None, 'tensorflow.StructuredValue', False],
    },
    'tensorflow.SavedConstant': {
        1: ['operation', 'string', False, None, None, False],
    },
    'tensorflow.SavedFunction': {
        1: ['concrete_functions', 'string', True, None, None, False],
        2: ['function_spec', 'message', False, None, 'tensorflow.FunctionSpec', False],
    },
    'tensorflow.SavedModel': {
        1: ['saved_model_schema_version', 'int64', False, None, None, False],
        2: ['meta_graphs', 'message', True, None, 'tensorflow.MetaGraphDef', False],
    },
    'tensorflow.SavedObject': {
        1: ['children', 'message', True, None, 'tensorflow.TrackableObjectGraph.TrackableObject.ObjectReference', False],
        3: ['slot_variables', 'message', True, None, 'tensorflow.TrackableObjectGraph.TrackableObject.SlotVariableReference', False],
        4: ['user_object', 'message', False, 'kind', 'tensorflow.SavedUserObject', False],
        5: ['asset', 'message', False, 'kind', 'tensorflow.SavedAsset', False],
        6: ['function', 'message', False, 'kind', 'tensorflow.SavedFunction', False],
        7: ['variable', 'message', False, 'kind', 'tensorflow.SavedVariable', False],
        8: ['bare_concrete_function', 'message', False, 'kind', 'tensorflow.SavedBareConcreteFunction', False],
        9: ['constant', 'message', False, 'kind', 'tensorflow.SavedConstant', False],
        10: ['resource', 'message', False, 'kind', 'tensorflow.SavedResource', False],
        11: ['saveable_objects', 'message', True, None, 'tensorflow.SavedObject.SaveableObjectsEntry', True],
        12: ['captured_tensor', 'message', False, 'kind', 'tensorflow.CapturedTensor', False],
        13: ['registered_name', 'string', False, None, None, False],
        14: ['serialized_user_proto', 'message', False, None, 'google.protobuf.Any', False],
        15: ['dependencies', 'message', True, None, 'tensorflow.TrackableObjectGraph.TrackableObject.ObjectReference', False],
        16: ['registered_saver', 'string', False, None, None, False],
    },
    'tensorflow.SavedObject.SaveableObjectsEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.SaveableObject', False],
    },
    'tensorflow.SavedObjectGraph': {
        1: ['nodes', 'message', True, None, 'tensorflow.SavedObject', False],
        2: ['concrete_functions', 'message', True, None, 'tensorflow.SavedObjectGraph.ConcreteFunctionsEntry', True],
    },
    'tensorflow.SavedObjectGraph.ConcreteFunctionsEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.SavedConcreteFunction', False],
    },
    'tensorflow.SavedResource': {
        1: ['device', 'string', False, None, None, False],
    },
    'tensorflow.SavedUserObject': {
        1: ['identifier', 'string', False, None, None, False],
        2: ['version', 'message', False, None, 'tensorflow.VersionDef', False],
        3: ['metadata', 'string', False, None, None, False],
    },
    'tensorflow.SavedVariable': {
        1: ['dtype', 'enum', False, None, None, False],
        2: ['shape', 'message', False, None, 'tensorflow.TensorShapeProto', False],
        3: ['trainable', 'bool', False, None, None, False],
        4: ['synchronization', 'enum', False, None, None, False],
        5: ['aggregation', 'enum', False, None, None, False],
        6: ['name', 'string', False, None, None, False],
        7: ['device', 'string', False, None, None, False],
        8: ['experimental_distributed_variable_components', 'message', True, None, 'tensorflow.SavedVariable', False],
    },
    'tensorflow.SaverDef': {
        1: ['filename_tensor_name', 'string', False, None, None, False],
        2: ['save_tensor_name', 'string', False, None, None, False],
        3: ['restore_op_name', 'string', False, None, None, False],
        4: ['max_to_keep', 'int32', False, None, None, False],
        5: ['sharded', 'bool', False, None, None, False],
        6: ['keep_checkpoint_every_n_hours', 'float', False, None, None, False],
        7: ['version', 'enum', False, None, None, False],
    },
    'tensorflow.SignatureDef': {
        1: ['inputs', 'message', True, None, 'tensorflow.SignatureDef.InputsEntry', True],
        2: ['outputs', 'message', True, None, 'tensorflow.SignatureDef.OutputsEntry', True],
        3: ['method_name', 'string', False, None, None, False],
        4: ['defaults', 'message', True, None, 'tensorflow.SignatureDef.DefaultsEntry', True],
    },
    'tensorflow.SignatureDef.DefaultsEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.TensorProto', False],
    },
    'tensorflow.SignatureDef.InputsEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.TensorInfo', False],
    },
    'tensorflow.SignatureDef.OutputsEntry': {
        1: ['key', 'string', False, None, None, False],
        2: ['value', 'message', False, None, 'tensorflow.TensorInfo', False],
    },
    'tensorflow.StructuredValue': {
        1: ['none_value', 'message', False, 'kind', 'tensorflow.NoneValue', False],
        11: ['float64_value', 'double', False, 'kind', None, False],
        12: ['int64_value', 'sint64', False, 'kind', None, False],
        13: ['string_value', 'string', False, 'kind', None, False],
        14: ['bool_value', 'bool', False, 'kind', None, False],
        31: ['tensor_shape_value', 'message', False, 'kind', 'tensorflow.TensorShapeProto', False],
        32: ['tensor_dtype_value', 'enum', False, 'kind', None, False],
        33: ['tensor_spec_value', 'message', False, 'kind', 'tensorflow.TensorSpecProto', False],
        34: ['type_spec_value', 'message', False, 'kind', 'tensorflow.TypeSpecProto', False],
        35: ['bounded_tensor_spec_value', 'message', False, 'kind', 'tensorflow.BoundedTensorSpecProto', False],
        51: ['list_value', 'message', False, 'kind', 'tensorflow.ListValue', False],
        52: ['tuple_value', 'message', False, 'kind', 'tensorflow.TupleValue', False],
        53: ['dict_value', 'message', False, 'kind', 'tensorflow.DictValue', False],
        54: ['named_tuple_value', 'message', False, 'kind', 'tensorflow.NamedTupleValue', False],
        55: ['tensor_value', 'message', False, 'kind', 'tensorflow.TensorProto', False],
        56: ['numpy_value', 'message', False, 'kind', 'tensorflow.TensorProto', False],
    },
    'tensorflow.TensorInfo': {
        1: ['name', 'string', False, 'encoding', None, False],
        2: ['dtype', 'enum', False, None, None, False],
        3: ['tensor_shape', 'message', False, None, 'tensorflow.TensorShapeProto', False],
        4: ['coo_sparse', 'message', False, 'encoding', 'tensorflow.TensorInfo.CooSparse', False],
        5: ['composite_tensor', 'message', False, 'encoding', 'tensorflow.TensorInfo.CompositeTensor', False],
    },
    'tensorflow.TensorInfo.CompositeTensor': {
        1: ['type_spec', 'message', False, None, 'tensorflow.TypeSpecProto', False],
        2: ['components', 'message', True, None, 'tensorflow.TensorInfo', False],
    },
    'tensorflow.TensorInfo.CooSparse': {
        1: ['values_tensor_name', 'string', False, None, None, False],
        2: ['indices_tensor_name', 'string', False, None, None, False],
        3: ['dense_shape_tensor_name', 'string', False, None, None, False],
    },
    'tensorflow.TensorProto': {
        1: ['dtype', 'enum', False, None, None, False],
        2: ['tensor_shape', 'message', False, None, 'tensorflow.TensorShapeProto', False],
        3: ['version_number', 'int32', False, None, None, False],
        4: ['tensor_content', 'bytes', False, None, None, False],
        5: ['float_val', 'float', True, None, None, False],
        6: ['double_val', 'double', True, None, None, False],
        7: ['int_val', 'int32', True, None, None, False],
        8: ['string_val', 'bytes', True, None, None, False],
        9: ['scomplex_val', 'float', True, None, None, False],
        10: ['int64_val', 'int64', True, None, None, False],
        11: ['bool_val', 'bool', True, None, None, False],
        12: ['dcomplex_val', 'double', True, None, None, False],
        13: ['half_val', 'int32', True, None, None, False],
        14: ['resource_handle_val', 'message', True, None, 'tensorflow.ResourceHandleProto', False],
        15: ['variant_val', 'message', True, None, 'tensorflow.VariantTensorDataProto', False],
        16: ['uint32_val', 'uint32', True, None, None, False],
        17: ['uint64_val', 'uint64', True, None, None, False],
        18: ['float8_val', 'bytes', False, None, None, False],
    },
    'tensorflow.TensorShapeProto': {
        2: ['dim', 'message', True, None, 'tensorflow.TensorShapeProto.Dim', False],
        3: ['unknown_rank', 'bool', False, None, None, False],
    },
    'tensorflow.TensorShapeProto.Dim': {
        1: ['size', 'int64', False, None, None, False],
        2: ['name', 'string', False, None, None, False],
    },
    'tensorflow.TensorSpecProto': {
        1: ['name', 'string', False, None, None, False],
        2: ['shape', 'message', False, None, 'tensorflow.TensorShapeProto', False],
        3: ['dtype', 'enum', False, None, None, False],
    },
    'tensorflow.TrackableObjectGraph.TrackableObject.ObjectReference': {
        1: ['node_id', 'int32', False, None, None, False],
        2: ['local_name', 'string', False, None, None, False],
    },
    'tensorflow.TrackableObjectGraph.TrackableObject.SlotVariableReference': {
        1: ['original_variable_node_id', 'int32', False, None, None, False],
        2: ['slot_name', 'string', False, None, None, False],
        3: ['slot_variable_node_id', 'int32', False, None, None, False],
    },
    'tensorflow.TupleValue': {
        1: ['values', 'message', True, None, 'tensorflow.StructuredValue', False],
    },
    'tensorflow.TypeSpecProto': {
        1: ['type_spec_class', 'enum', False, None, None, False],
        2: ['type_state', 'message', False, None, 'tensorflow.StructuredValue', False],
        3: ['type_spec_class_name', 'string', False, None, None, False],
        4: ['num_flat_components', 'int32', False, None, None, False],
    },
    'tensorflow.VariantTensorDataProto': {
        1: ['type_name', 'string', False, None, None, False],
        2: ['metadata', 'bytes', False, None, None, False],
        3: ['tensors', 'message', True, None, 'tensorflow.TensorProto', False],
    },
    'tensorflow.VersionDef': {
        1: ['producer', 'int32', False, None, None, False],
        2: ['min_consumer', 'int32', False, None, None, False],
        3: ['bad_consumers', 'int32', True, None, None, False],
    },
}
SINCE: dict[str, dict[int, str]] = {
    'tensorflow.GraphDebugInfo': {1: '2.13', 2: '2.13', 4: '2.14', 5: '2.14', 6: '2.14'},
    'tensorflow.GraphDebugInfo.FileLineCol': {1: '2.13', 2: '2.13', 3: '2.13', 4: '2.13', 5: '2.13'},
    'tensorflow.GraphDebugInfo.FramesByIdEntry': {1: '2.14', 2: '2.14'},
    'tensorflow.GraphDebugInfo.NameToTraceIdEntry': {1: '2.14', 2: '2.14'},
    'tensorflow.GraphDebugInfo.StackTrace': {1: '2.13', 2: '2.14'},
    'tensorflow.GraphDebugInfo.TracesByIdEntry': {1: '2.14', 2: '2.14'},
    'tensorflow.GraphDebugInfo.TracesEntry': {1: '2.13', 2: '2.13'},
    'tensorflow.GraphDef': {5: '2.13'},
    'tensorflow.SignatureDef': {4: '2.14'},
    'tensorflow.SignatureDef.DefaultsEntry': {1: '2.14', 2: '2.14'},
    'tensorflow.StructuredValue': {55: '2.13', 56: '2.14'},
}
# fmt: on
