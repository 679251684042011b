using System.Net;
using Gadget.Schema;
using Gadget.Tracing;

namespace Gadget;

/// <summary>
/// An event of a gadget the client has no type for (a user's program, a newer agent's gadget): the
/// fields every event has, plus each of the schema's fields by name, decoded by its kind and
/// well-known type. The cmdlets turn it into a PSObject whose properties are those fields.
/// </summary>
public sealed class GadgetRecord : GadgetEvent
{
    internal GadgetRecord(in EventRow row, EventOrigin origin)
        : base(row, origin)
    {
        var binding = (Binding)row.Binding;
        var fields = new List<KeyValuePair<string, object?>>(binding.Fields.Length);
        foreach ((SchemaField field, FieldRef where) in binding.Fields)
        {
            fields.Add(new(field.Name, Value(row, field, where)));
            if (field.Kind == FieldKind.L4Endpoint)
            {
                (Protocols ??= [])[field.Name] = row.EndPointProtocol(where);
            }
        }

        Gadget = binding.Schema.Gadget;
        Fields = fields;
        Schema = binding.Schema;
    }

    /// <summary>The schema the record was decoded by (what each field is).</summary>
    internal TraceSchema Schema { get; }

    /// <summary>The IP protocol (6 TCP, 17 UDP) of each L4 endpoint field, by name; null when there is none.</summary>
    internal Dictionary<string, int>? Protocols { get; }

    /// <summary>The gadget that produced it.</summary>
    public string Gadget { get; }

    /// <summary>Every field of the event struct and every derived field, in schema order.</summary>
    public IReadOnlyList<KeyValuePair<string, object?>> Fields { get; }

    /// <summary>The gadget and its fields as name=value, control characters escaped.</summary>
    public override string ToString()
        => $"{Gadget} {string.Join(' ', Fields.Select(f => f.Key + "=" + ControlText.Escape(Convert.ToString(f.Value, System.Globalization.CultureInfo.InvariantCulture))))}";

    private static object? Value(in EventRow row, SchemaField field, FieldRef where) => field.Kind switch
    {
        FieldKind.Bool => row.Boolean(where),
        FieldKind.Int or FieldKind.Enum when field.WellKnown == WellKnownType.Timestamp => row.Time(where),
        FieldKind.Int or FieldKind.Enum when field.WellKnown == WellKnownType.Duration => row.Duration(where),
        FieldKind.Int or FieldKind.Enum when field.WellKnown == WellKnownType.Errno => (Errno)row.Int32(where),
        FieldKind.Int or FieldKind.Enum when field.WellKnown == WellKnownType.Signal => (Signal)row.Int32(where),
        FieldKind.Int or FieldKind.Enum when field.WellKnown == WellKnownType.FileFlags => (OpenFlags)row.UInt32(where),
        FieldKind.Enum => EnumName(field, row.Int64(where)),
        FieldKind.Int when field.Signed => row.Int64(where),
        FieldKind.Int => row.UInt64(where),
        FieldKind.Float => row.Double(where),
        FieldKind.String => row.String(where),
        FieldKind.StringList => ArgumentList.Wrap(row.Strings(where)),
        FieldKind.AddressList => new IPAddressList(row.Addresses(where)),
        FieldKind.L3Endpoint => row.EndPoint(where).Address,
        FieldKind.L4Endpoint => row.EndPoint(where),
        FieldKind.Pointer => row.UInt64(where),
        _ => row.Bytes(where).ToArray(),
    };

    /// <summary>An enum value by its C name; the number when it has none.</summary>
    private static object EnumName(SchemaField field, long value)
    {
        foreach ((string name, long known) in field.EnumMembers)
        {
            if (known == value)
            {
                return name;
            }
        }

        return value;
    }

    /// <summary>Every field, in schema order.</summary>
    internal sealed class Binding(TraceSchema schema, long bootTimeUnixNs) : EventBinding(schema, bootTimeUnixNs)
    {
        public (SchemaField Field, FieldRef Where)[] Fields { get; } = [.. schema.Fields.Select(f => (f, FieldRef.To(f)))];
    }
}
