namespace Gadget.Schema;

/// <summary>
/// Reads what a top's hash map holds from its definition in <c>.maps</c>: the key and value types
/// libbpf's <c>__type(key, …)</c> and <c>__type(value, …)</c> declare. A top's record is an entry
/// as the host reads it: the key's bytes followed by the value's, so its fields are the key's and
/// then the value's, each at its offset in that record.
/// </summary>
internal static class MapIteratorReader
{
    /// <summary>BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_LRU_HASH: the map types a top can read and empty entry by entry.</summary>
    private static readonly HashSet<int> HashMapTypes = [1, 9];

    public static MapIteratorInfo Read(Btf btf, SchemaBuilder builder, string name, string mapName, string marker)
    {
        if (!btf.TryFindType(".maps", BtfKind.DataSec, out BtfType? section))
        {
            throw new GadgetObjectException($"The map iterator marker '{marker}' names map '{mapName}', but the object declares no maps in .maps.");
        }

        BtfType? definition = null;
        foreach (BtfDataSecVariable entry in section.Variables)
        {
            BtfType variable = btf[entry.Type];
            if (variable.Kind == BtfKind.Var && variable.Name == mapName)
            {
                definition = btf.Resolve(variable.ReferencedType).Type;
                break;
            }
        }

        if (definition is not { Kind: BtfKind.Struct })
        {
            throw new GadgetObjectException($"The map iterator marker '{marker}' names map '{mapName}', which is not a map of .maps.");
        }

        int mapType = PointedArrayLength(btf, definition, "type")
            ?? throw new GadgetObjectException($"Map '{mapName}' declares no type (__uint(type, …)).");
        if (!HashMapTypes.Contains(mapType))
        {
            throw new GadgetObjectException(
                $"Map '{mapName}' of the map iterator '{name}' has BPF map type {mapType}; a top reads a hash map (BPF_MAP_TYPE_HASH or BPF_MAP_TYPE_LRU_HASH).");
        }

        int keyType = PointedType(btf, definition, "key")
            ?? throw new GadgetObjectException($"Map '{mapName}' declares no key type (__type(key, …)): the host cannot tell what its entries hold.");
        int valueType = PointedType(btf, definition, "value")
            ?? throw new GadgetObjectException($"Map '{mapName}' declares no value type (__type(value, …)): the host cannot tell what its entries hold.");
        uint maxEntries = (uint)(PointedArrayLength(btf, definition, "max_entries") ?? 0);

        EventSchema key = Describe(btf, builder, keyType, "key");
        EventSchema value = Describe(btf, builder, valueType, "value");
        var fields = new List<FieldSchema>(key.Fields.Count + value.Fields.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (FieldSchema field in key.Fields)
        {
            names.Add(field.Path);
            fields.Add(field);
        }

        foreach (FieldSchema field in value.Fields)
        {
            if (!names.Add(field.Path))
            {
                throw new GadgetObjectException(
                    $"Map '{mapName}': its key ({key.StructName}) and its value ({value.StructName}) both have a field '{field.Path}'; a row cannot hold both.");
            }

            fields.Add(Shift(field, key.Size));
        }

        var record = new EventSchema($"{key.StructName} + {value.StructName}", key.Size + value.Size, fields);
        return new MapIteratorInfo(name, mapName)
        {
            Record = record,
            KeySize = key.Size,
            ValueSize = value.Size,
            MaxEntries = maxEntries,
        };
    }

    /// <summary>A struct flattened, or a scalar as one field named after its part (key, value).</summary>
    private static EventSchema Describe(Btf btf, SchemaBuilder builder, int typeId, string part)
    {
        BtfType type = btf.Resolve(typeId).Type;
        if (type.Kind == BtfKind.Struct)
        {
            EventSchema schema = builder.BuildStruct(type);
            return btf[typeId].Kind == BtfKind.Typedef && schema.StructName.Length == 0 ? schema with { StructName = btf[typeId].Name } : schema;
        }

        FieldSchema field = builder.DescribeValue(part, typeId);
        return new EventSchema(field.TypeName, btf.SizeOf(typeId), [field]);
    }

    /// <summary>A field moved <paramref name="delta"/> bytes further into the record.</summary>
    private static FieldSchema Shift(FieldSchema field, int delta) => new(field.Path, field.Offset + delta, field.Size, field.Kind, field.TypeName)
    {
        WellKnown = field.WellKnown,
        Signed = field.Signed,
        ElementCount = field.ElementCount,
        BitOffset = field.BitOffset,
        BitSize = field.BitSize,
        EnumMembers = field.EnumMembers,
        IsTail = false, // the value's last array is whole: entries have a fixed size
        Endpoint = field.Endpoint,
    };

    /// <summary>The type a member of a map definition points to (__type(key, T) is T *key).</summary>
    private static int? PointedType(Btf btf, BtfType definition, string member)
    {
        BtfMember? found = definition.Members.FirstOrDefault(m => m.Name == member);
        if (found is null)
        {
            return null;
        }

        BtfType pointer = btf.SkipModifiers(found.Type);
        return pointer.Kind == BtfKind.Pointer ? pointer.ReferencedType : null;
    }

    /// <summary>The number a member of a map definition carries (__uint(type, N) is int (*type)[N]).</summary>
    private static int? PointedArrayLength(Btf btf, BtfType definition, string member)
        => PointedType(btf, definition, member) is int target && btf.Resolve(target).Type is { Kind: BtfKind.Array } array ? array.ArrayLength : null;
}
