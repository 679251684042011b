using Gadget.Protocol.V1;
using Gadget.Schema;
using FieldKind = Gadget.Schema.FieldKind;
using WellKnownType = Gadget.Schema.WellKnownType;
using EventSchema = Gadget.Protocol.V1.EventSchema;

namespace Gadget.Tracing;

/// <summary>A trace's schema as the agent sent it, back into the model every part of Gadget reads rows by.</summary>
internal static class SchemaMessage
{
    public static TraceSchema Read(EventSchema message)
    {
        var fields = new List<SchemaField>(message.Fields.Count);
        foreach (FieldDescriptor field in message.Fields)
        {
            bool isFixed = field.Size > 0;
            var annotations = new Dictionary<string, string>(field.Annotations, StringComparer.Ordinal);
            if (field.Description.Length > 0)
            {
                annotations["description"] = field.Description;
            }

            fields.Add(new SchemaField(
                field.Name,
                Kind(field.Kind),
                (WellKnownType)(int)field.WellKnown,
                (int)field.Size,
                isFixed ? (int)field.Offset : -1,
                isFixed ? -1 : (int)field.VariableIndex,
                field.Signed,
                field.CType,
                [.. field.EnumMembers.Select(m => (m.Name, m.Value))],
                new FieldMetadata(field.Name, annotations),
                Source: null));
        }

        // In the message's own (unsigned, 64-bit) terms, before any of it is an int: a field past the
        // fixed block, or at an offset that wraps, would otherwise be read out of its row's bounds.
        if (message.Fields.Any(f => f.Size > 0 && (ulong)f.Offset + f.Size > message.FixedSize)
            || fields.Any(f => f.IsFixed && f.Size != TraceSchema.RowSize(f.Kind, f.Size)) || fields.Any(f => f.IsFixed && f.Kind is FieldKind.Int or FieldKind.Enum && f.Size is not (1 or 2 or 4 or 8))
            || fields.Where(f => !f.IsFixed).Select(f => f.VariableIndex).Order().Where((index, i) => index != i).Any())
        {
            throw new InvalidDataException("The agent sent a malformed message: its schema's fields do not fit its rows.");
        }

        try
        {
            return new TraceSchema(message.Gadget, message.TypeName, message.Description, fields, (int)Math.Min(message.FixedSize, int.MaxValue))
            {
                SortBy = message.SortBy.Length > 0 ? message.SortBy : null,
            };
        }
        catch (GadgetObjectException exception)
        {
            throw new InvalidDataException($"The agent sent a malformed message: {exception.Message}", exception);
        }
    }

    private static FieldKind Kind(Protocol.V1.FieldKind kind) => kind switch
    {
        Protocol.V1.FieldKind.Bool => FieldKind.Bool,
        Protocol.V1.FieldKind.Int => FieldKind.Int,
        Protocol.V1.FieldKind.Float => FieldKind.Float,
        Protocol.V1.FieldKind.Enum => FieldKind.Enum,
        Protocol.V1.FieldKind.String => FieldKind.String,
        Protocol.V1.FieldKind.StringList => FieldKind.StringList,
        Protocol.V1.FieldKind.L3Endpoint => FieldKind.L3Endpoint,
        Protocol.V1.FieldKind.L4Endpoint => FieldKind.L4Endpoint,
        Protocol.V1.FieldKind.Pointer => FieldKind.Pointer,
        Protocol.V1.FieldKind.AddressList => FieldKind.AddressList,
        _ => FieldKind.Bytes,
    };
}
