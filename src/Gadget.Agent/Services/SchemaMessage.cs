using Gadget.Protocol.V1;
using Gadget.Schema;
using EventSchema = Gadget.Protocol.V1.EventSchema;
using EnumMember = Gadget.Protocol.V1.EnumMember;
using FieldKind = Gadget.Schema.FieldKind;
using WellKnownType = Gadget.Schema.WellKnownType;

namespace Gadget.Agent.Services;

/// <summary>A trace's schema as the stream sends it first.</summary>
internal static class SchemaMessage
{
    public static EventSchema Create(TraceSchema schema, long bootTimeUnixNs)
    {
        var message = new EventSchema
        {
            Gadget = schema.Gadget,
            TypeName = schema.TypeName ?? string.Empty,
            Description = schema.Description,
            FixedSize = (uint)schema.FixedSize,
            BootTimeUnixNs = bootTimeUnixNs,
            SortBy = schema.SortBy ?? string.Empty,
        };
        foreach (SchemaField field in schema.Fields)
        {
            var descriptor = new FieldDescriptor
            {
                Name = field.Name,
                Kind = Kind(field.Kind),
                WellKnown = (Protocol.V1.WellKnownType)(int)field.WellKnown,
                Size = field.IsFixed ? (uint)field.Size : 0,
                Offset = field.IsFixed ? (uint)field.Offset : 0,
                VariableIndex = field.IsFixed ? 0 : (uint)field.VariableIndex,
                Signed = field.Signed,
                CType = field.CType,
                Description = field.Description ?? string.Empty,
            };
            foreach ((string name, long value) in field.EnumMembers)
            {
                descriptor.EnumMembers.Add(new EnumMember { Name = name, Value = value });
            }

            if (field.Metadata is FieldMetadata metadata)
            {
                foreach ((string key, string value) in metadata.Annotations.Where(a => a.Key != "description"))
                {
                    descriptor.Annotations[key] = value;
                }
            }

            message.Fields.Add(descriptor);
        }

        return message;
    }

    private static Protocol.V1.FieldKind Kind(FieldKind kind) => kind switch
    {
        FieldKind.Bool => Protocol.V1.FieldKind.Bool,
        FieldKind.Int => Protocol.V1.FieldKind.Int,
        FieldKind.Float => Protocol.V1.FieldKind.Float,
        FieldKind.Enum => Protocol.V1.FieldKind.Enum,
        FieldKind.String => Protocol.V1.FieldKind.String,
        FieldKind.StringList => Protocol.V1.FieldKind.StringList,
        FieldKind.Bytes => Protocol.V1.FieldKind.Bytes,
        FieldKind.L3Endpoint => Protocol.V1.FieldKind.L3Endpoint,
        FieldKind.L4Endpoint => Protocol.V1.FieldKind.L4Endpoint,
        FieldKind.Pointer => Protocol.V1.FieldKind.Pointer,
        FieldKind.AddressList => Protocol.V1.FieldKind.AddressList,
        _ => Protocol.V1.FieldKind.Unspecified,
    };
}
