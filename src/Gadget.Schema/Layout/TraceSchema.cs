namespace Gadget.Schema;

/// <summary>
/// What the events of one trace hold and where each field sits in a row: the event struct's fields
/// as its BTF describes them, then the fields the agent derives (declared in gadget.yaml). The agent
/// writes rows by it, the client reads them by it, and the generator makes the typed event classes
/// from it, so all three agree by construction.
/// </summary>
/// <remarks>
/// A row is a fixed block of <see cref="FixedSize"/> bytes, where every fixed-size field sits at
/// its <see cref="SchemaField.Offset"/> (little-endian), followed by every variable-size field in
/// <see cref="SchemaField.VariableIndex"/> order as a varint length and its bytes.
/// </remarks>
public sealed class TraceSchema
{
    public const int L3EndpointSize = 17;
    public const int L4EndpointSize = 21;

    private readonly Dictionary<string, SchemaField> _byName;

    /// <param name="gadget">The gadget's name.</param>
    /// <param name="typeName">The .NET event type, if any.</param>
    /// <param name="description">What the gadget shows.</param>
    /// <param name="fields">The fields in row order.</param>
    /// <param name="fixedSize">The fixed block's size when another side declared it (at least what the fields need); null: what the fields need.</param>
    public TraceSchema(string gadget, string? typeName, string description, IReadOnlyList<SchemaField> fields, int? fixedSize = null)
    {
        Gadget = gadget;
        TypeName = string.IsNullOrEmpty(typeName) ? null : typeName;
        Description = description;
        Fields = fields;
        _byName = new Dictionary<string, SchemaField>(StringComparer.Ordinal);
        foreach (SchemaField field in fields)
        {
            _byName.TryAdd(field.Name, field);
            if (field.IsFixed)
            {
                FixedSize = Math.Max(FixedSize, field.Offset + field.Size);
            }
            else
            {
                VariableCount++;
            }
        }

        if (fixedSize is int declared)
        {
            FixedSize = declared >= FixedSize ? declared : throw new GadgetObjectException($"The schema's fields need a fixed block of {FixedSize} bytes, not {declared}.");
        }
    }

    public string Gadget { get; }

    /// <summary>The .NET event type the client makes (ExecEvent); null: a generic record.</summary>
    public string? TypeName { get; }

    public string Description { get; }

    /// <summary>A top's main figure: the field its windows' rows are sorted by, largest first; null for none.</summary>
    public string? SortBy { get; init; }

    public IReadOnlyList<SchemaField> Fields { get; }

    /// <summary>Bytes of every row's fixed block.</summary>
    public int FixedSize { get; }

    /// <summary>Variable-size fields each row carries after its fixed block.</summary>
    public int VariableCount { get; }

    /// <summary>The field of this name (struct path, or derived field name), or null.</summary>
    public SchemaField? Field(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The first field of a well-known type (the event's pid, its mount namespace …), or null.</summary>
    public SchemaField? First(WellKnownType type)
    {
        foreach (SchemaField field in Fields)
        {
            if (field.WellKnown == type)
            {
                return field;
            }
        }

        return null;
    }

    /// <summary>
    /// The schema of a tracer's records: the struct's fields (padding and __ members left out), then
    /// the fields gadget.yaml declares as derived. Bitfields are not supported yet.
    /// </summary>
    public static TraceSchema Build(string gadget, EventSchema record, GadgetMetadata metadata)
    {
        var fields = new List<SchemaField>();
        int offset = 0;
        int variableIndex = 0;
        foreach (FieldSchema member in record.Fields)
        {
            if (member.BitSize != 0)
            {
                throw new GadgetObjectException($"Field '{member.Path}' of struct {record.StructName} is a bitfield, which Gadget cannot read yet.");
            }

            FieldMetadata? annotations = metadata.Field(member.Path);
            int size = RowSize(member.Kind, member.Size);
            fields.Add(new SchemaField(member.Path, member.Kind, member.WellKnown, size, size > 0 ? offset : -1, size > 0 ? -1 : variableIndex++,
                member.Signed, member.TypeName, member.EnumMembers, annotations, member));
            offset += size;
        }

        foreach (FieldMetadata derived in metadata.Fields)
        {
            if (derived.Derived is not string type)
            {
                continue;
            }

            (FieldKind kind, int size, bool signed) = DerivedType(derived.Path, type);
            if (fields.Any(f => f.Name == derived.Path))
            {
                throw new GadgetObjectException($"gadget.yaml derives field '{derived.Path}', which struct {record.StructName} already has.");
            }

            fields.Add(new SchemaField(derived.Path, kind, WellKnownType.None, size, size > 0 ? offset : -1, size > 0 ? -1 : variableIndex++,
                signed, type, [], derived, Source: null));
            offset += size;
        }

        if (metadata.SortBy is string sortBy && !fields.Any(f => f.Name == sortBy && f.Kind is FieldKind.Int or FieldKind.Float or FieldKind.Bool or FieldKind.Enum))
        {
            throw new GadgetObjectException($"gadget.yaml sorts by '{sortBy}', which is no number field of {record.StructName}.");
        }

        return new TraceSchema(gadget, metadata.TypeName, metadata.Description, fields) { SortBy = metadata.SortBy };
    }

    /// <summary>Bytes a field takes in the fixed block; 0 for a variable-size field.</summary>
    public static int RowSize(FieldKind kind, int size) => kind switch
    {
        FieldKind.Bool => 1,
        FieldKind.Int or FieldKind.Enum or FieldKind.Float => size,
        FieldKind.Pointer => 8,
        FieldKind.L3Endpoint => L3EndpointSize,
        FieldKind.L4Endpoint => L4EndpointSize,
        _ => 0,
    };

    private static (FieldKind Kind, int Size, bool Signed) DerivedType(string name, string type) => type switch
    {
        "bool" => (FieldKind.Bool, 1, false),
        "int8" => (FieldKind.Int, 1, true),
        "uint8" => (FieldKind.Int, 1, false),
        "int16" => (FieldKind.Int, 2, true),
        "uint16" => (FieldKind.Int, 2, false),
        "int32" => (FieldKind.Int, 4, true),
        "uint32" => (FieldKind.Int, 4, false),
        "int64" => (FieldKind.Int, 8, true),
        "uint64" => (FieldKind.Int, 8, false),
        "string" => (FieldKind.String, 0, false),
        "bytes" => (FieldKind.Bytes, 0, false),
        "addresses" => (FieldKind.AddressList, 0, false),
        _ => throw new GadgetObjectException($"gadget.yaml: field '{name}' derives an unknown type '{type}' (bool, int8 … uint64, string, bytes, addresses)."),
    };
}

/// <summary>
/// One field of a trace's rows. <see cref="Offset"/> is its place in the fixed block (-1 when it is
/// variable-size); <see cref="VariableIndex"/> its place among the variable parts (-1 when fixed).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "C's word for it, as in FieldSchema.")]
public sealed record SchemaField(
    string Name,
    FieldKind Kind,
    WellKnownType WellKnown,
    int Size,
    int Offset,
    int VariableIndex,
    bool Signed,
    string CType,
    IReadOnlyList<(string Name, long Value)> EnumMembers,
    FieldMetadata? Metadata,
    FieldSchema? Source)
{
    public bool IsFixed => Offset >= 0;

    public string? Description => Metadata?.Description;

    /// <summary>An annotation from gadget.yaml (gadget.enum, columns.width …), or null.</summary>
    public string? Annotation(string key) => Metadata?.Annotations.GetValueOrDefault(key);
}
