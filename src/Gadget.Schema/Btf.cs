namespace Gadget.Schema;

/// <summary>
/// The BTF type information of an object (its .BTF section): every type by id, and the lookups a
/// reader of event structs needs. Parsing checks every offset and every type reference, so the
/// lookups below never index outside the table.
/// </summary>
public sealed class Btf
{
    public const ushort Magic = 0xEB9F;

    /// <summary>
    /// The longest chain of modifiers, typedefs and arrays followed before the type graph is taken
    /// to be a cycle. Real chains are a handful long (const volatile typedef of typedef).
    /// </summary>
    public const int MaxChain = 64;

    private const int MinHeaderSize = 24;
    private const int TypeHeaderSize = 12;

    private readonly BtfType[] _types;
    private readonly Dictionary<(string, BtfKind), BtfType> _byName;

    private Btf(int version, int flags, BtfType[] types)
    {
        Version = version;
        Flags = flags;
        _types = types;
        _byName = [];
        foreach (BtfType type in types)
        {
            if (type.Name.Length > 0)
            {
                _byName.TryAdd((type.Name, type.Kind), type);
            }
        }
    }

    public int Version { get; }

    public int Flags { get; }

    /// <summary>Every type by id; index 0 is void.</summary>
    public IReadOnlyList<BtfType> Types => _types;

    /// <summary>The type with id <paramref name="id"/>; 0 is void.</summary>
    public BtfType this[int id] => id >= 0 && id < _types.Length
        ? _types[id]
        : throw new GadgetObjectException($"BTF type id {id} does not exist (the object has {_types.Length - 1} types).");

    public static Btf Parse(ReadOnlyMemory<byte> btfSection) => Guard.Parse(() => ParseChecked(btfSection));

    private static Btf ParseChecked(ReadOnlyMemory<byte> btfSection)
    {
        ReadOnlySpan<byte> data = btfSection.Span;
        if (data.Length < MinHeaderSize)
        {
            throw new GadgetObjectException($"The BTF section is {data.Length} bytes long: too short for a BTF header.");
        }

        ushort magic = Bounds.U16(data, 0, "BTF header");
        if (magic == 0x9FEB)
        {
            throw new GadgetObjectException("The BTF is big-endian; only little-endian BPF objects are read.");
        }

        if (magic != Magic)
        {
            throw new GadgetObjectException($"The BTF section does not start with the BTF magic 0xEB9F (found 0x{magic:X4}).");
        }

        int version = data[2];
        if (version != 1)
        {
            throw new GadgetObjectException($"The BTF is version {version}; only version 1 is known.");
        }

        uint headerLength = Bounds.U32(data, 4, "BTF header");
        if (headerLength < MinHeaderSize)
        {
            throw new GadgetObjectException($"The BTF header claims {headerLength} bytes; it has at least {MinHeaderSize}.");
        }

        uint typeOffset = Bounds.U32(data, 8, "BTF header");
        uint typeLength = Bounds.U32(data, 12, "BTF header");
        uint stringOffset = Bounds.U32(data, 16, "BTF header");
        uint stringLength = Bounds.U32(data, 20, "BTF header");
        ReadOnlySpan<byte> body = Bounds.Slice(data, headerLength, data.Length - (long)headerLength, "The BTF header");
        ReadOnlySpan<byte> typeData = Bounds.Slice(body, typeOffset, typeLength, "The BTF type section");
        ReadOnlySpan<byte> strings = Bounds.Slice(body, stringOffset, stringLength, "The BTF string section");
        if (strings.Length == 0 || strings[0] != 0)
        {
            throw new GadgetObjectException("The BTF string section does not start with the empty string.");
        }

        var types = new List<BtfType> { BtfType.Void };
        int position = 0;
        while (position < typeData.Length)
        {
            types.Add(ReadType(typeData, ref position, types.Count, strings));
        }

        BtfType[] table = [.. types];
        CheckReferences(table);
        return new Btf(version, data[3], table);
    }

    /// <summary>The first type called <paramref name="name"/> of kind <paramref name="kind"/>.</summary>
    public bool TryFindType(string name, BtfKind kind, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BtfType? type)
        => _byName.TryGetValue((name, kind), out type);

    /// <summary>Every type of kind <paramref name="kind"/>, in id order.</summary>
    public IEnumerable<BtfType> TypesOfKind(BtfKind kind) => _types.Where(t => t.Kind == kind);

    /// <summary>Skips const, volatile, restrict and type tags.</summary>
    public BtfType SkipModifiers(int id)
    {
        BtfType type = this[id];
        for (int step = 0; type.IsModifier; step++)
        {
            CheckChain(step, id);
            type = this[type.ReferencedType];
        }

        return type;
    }

    /// <summary>Skips modifiers and typedefs, remembering the typedef names met (outermost first).</summary>
    public BtfResolvedType Resolve(int id)
    {
        BtfType type = this[id];
        List<string>? typedefs = null;
        for (int step = 0; type.IsModifier || type.Kind == BtfKind.Typedef; step++)
        {
            CheckChain(step, id);
            if (type.Kind == BtfKind.Typedef)
            {
                (typedefs ??= []).Add(type.Name);
            }

            type = this[type.ReferencedType];
        }

        return new BtfResolvedType(type, typedefs ?? (IReadOnlyList<string>)[]);
    }

    /// <summary>The size in bytes of a value of type <paramref name="id"/>.</summary>
    public int SizeOf(int id) => SizeOf(id, 0);

    private int SizeOf(int id, int depth)
    {
        CheckChain(depth, id);
        BtfType type = this[id];
        switch (type.Kind)
        {
            case BtfKind.Int or BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64 or BtfKind.Float or BtfKind.DataSec:
                return type.Size;
            case BtfKind.Pointer:
                return 8;
            case BtfKind.Typedef or BtfKind.Var or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag:
                return SizeOf(type.ReferencedType, depth + 1);
            case BtfKind.Array:
                long size = (long)SizeOf(type.ArrayElementType, depth + 1) * type.ArrayLength;
                return size <= int.MaxValue
                    ? (int)size
                    : throw new GadgetObjectException($"BTF array type {id} is {size} bytes long: too large.");
            default:
                throw new GadgetObjectException($"BTF type {id} ({type.Kind}) has no size.");
        }
    }

    private static void CheckChain(int step, int id)
    {
        if (step >= MaxChain)
        {
            throw new GadgetObjectException(
                $"Following BTF type {id} went through more than {MaxChain} modifiers, typedefs or arrays: the type graph has a cycle.");
        }
    }

    private static BtfType ReadType(ReadOnlySpan<byte> data, ref int position, int id, ReadOnlySpan<byte> strings)
    {
        string what = $"BTF type {id}";
        uint nameOffset = Bounds.U32(data, position, what);
        uint info = Bounds.U32(data, position + 4, what);
        uint sizeOrType = Bounds.U32(data, position + 8, what);
        position += TypeHeaderSize;

        int vlen = (int)(info & 0xFFFF);
        int kindNumber = (int)((info >> 24) & 0x1F);
        bool kindFlag = (info >> 31) != 0;
        if (kindNumber is < 1 or > 19)
        {
            throw new GadgetObjectException($"{what} has unknown kind {kindNumber}.");
        }

        var kind = (BtfKind)kindNumber;
        string name = Bounds.CString(strings, nameOffset, $"The name of {what}");
        int Size() => NonNegative(unchecked((int)sizeOrType), what);
        int Reference() => sizeOrType <= int.MaxValue ? (int)sizeOrType : throw new GadgetObjectException($"{what} refers to type {sizeOrType}, which does not exist.");

        // Each kind's extra data, with its whole length checked before the loop that reads it.
        int extra = kind switch
        {
            BtfKind.Int or BtfKind.Var or BtfKind.DeclTag => 4,
            BtfKind.Array => 12,
            BtfKind.Struct or BtfKind.Union or BtfKind.Enum64 or BtfKind.DataSec => 12 * vlen,
            BtfKind.Enum or BtfKind.FuncProto => 8 * vlen,
            _ => 0,
        };
        ReadOnlySpan<byte> items = Bounds.Slice(data, position, extra, what);
        position += extra;

        switch (kind)
        {
            case BtfKind.Int:
                uint encoding = Bounds.U32(items, 0, what);
                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType)
                {
                    Size = Size(),
                    IntEncoding = (BtfIntEncoding)((encoding >> 24) & 0xF),
                    IntBitOffset = (int)((encoding >> 16) & 0xFF),
                    IntBits = (int)(encoding & 0xFF),
                };
            case BtfKind.Array:
                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType)
                {
                    ArrayElementType = Int(items, 0, what),
                    ArrayIndexType = Int(items, 4, what),
                    ArrayLength = NonNegative(Int(items, 8, what), what),
                };
            case BtfKind.Struct or BtfKind.Union:
            {
                var members = new BtfMember[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    string memberName = Name(items, strings, 12 * i, what);
                    int type = Int(items, (12 * i) + 4, what);
                    uint offset = Bounds.U32(items, (12 * i) + 8, what);
                    // With kind_flag the offset word packs the bitfield size above a 24-bit bit offset.
                    members[i] = kindFlag
                        ? new BtfMember(memberName, type, (int)(offset & 0xFFFFFF), (int)(offset >> 24))
                        : new BtfMember(memberName, type, NonNegative(unchecked((int)offset), what), 0);
                }

                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { Size = Size(), Members = members };
            }

            case BtfKind.Enum:
            {
                // kind_flag marks a signed enum, but clang before 15 never sets it and writes a
                // negative value as its 32-bit pattern. In an enum narrower than 4 bytes such a
                // pattern cannot be an unsigned value, so it is read as the negative one it is.
                int size = Size();
                bool signed = kindFlag;
                for (int i = 0; i < vlen && !signed && size < 4; i++)
                {
                    signed = Bounds.U32(items, (8 * i) + 4, what) >> (8 * size) != 0;
                }

                var values = new BtfEnumValue[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    uint raw = Bounds.U32(items, (8 * i) + 4, what);
                    values[i] = new BtfEnumValue(Name(items, strings, 8 * i, what), signed ? unchecked((int)raw) : raw);
                }

                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { Size = size, EnumValues = values, EnumSigned = signed };
            }

            case BtfKind.Enum64:
            {
                var values = new BtfEnumValue[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    ulong low = Bounds.U32(items, (12 * i) + 4, what);
                    ulong high = Bounds.U32(items, (12 * i) + 8, what);
                    values[i] = new BtfEnumValue(Name(items, strings, 12 * i, what), unchecked((long)((high << 32) | low)));
                }

                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { Size = Size(), EnumValues = values, EnumSigned = kindFlag };
            }

            case BtfKind.FuncProto:
            {
                var parameters = new BtfParameter[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    parameters[i] = new BtfParameter(Name(items, strings, 8 * i, what), Int(items, (8 * i) + 4, what));
                }

                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { ReferencedType = Reference(), Parameters = parameters };
            }

            case BtfKind.DataSec:
            {
                var variables = new BtfDataSecVariable[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    int offset = NonNegative(Int(items, (12 * i) + 4, what), what);
                    int size = NonNegative(Int(items, (12 * i) + 8, what), what);
                    variables[i] = new BtfDataSecVariable(Int(items, 12 * i, what), offset, size);
                }

                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { Size = Size(), Variables = variables };
            }

            case BtfKind.Var:
                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { ReferencedType = Reference(), Linkage = Int(items, 0, what) };
            case BtfKind.DeclTag:
                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { ReferencedType = Reference(), ComponentIndex = Int(items, 0, what) };
            case BtfKind.Func:
                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { ReferencedType = Reference(), Linkage = vlen };
            case BtfKind.Float:
                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { Size = Size() };
            case BtfKind.Forward:
                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType);
            default:
                // PTR, TYPEDEF and the modifiers: only the referenced type.
                return new BtfType(id, kind, name, kindFlag, vlen, sizeOrType) { ReferencedType = Reference() };
        }
    }

    /// <summary>Every type id a type mentions must exist, so that later lookups cannot fail on it.</summary>
    private static void CheckReferences(BtfType[] types)
    {
        void Check(BtfType from, int id)
        {
            if (id < 0 || id >= types.Length)
            {
                throw new GadgetObjectException($"BTF type {from.Id} ({from.Kind} '{from.Name}') refers to type {id}, which does not exist.");
            }
        }

        foreach (BtfType type in types)
        {
            Check(type, type.ReferencedType);
            Check(type, type.ArrayElementType);
            Check(type, type.ArrayIndexType);
            foreach (BtfMember member in type.Members)
            {
                Check(type, member.Type);
            }

            foreach (BtfParameter parameter in type.Parameters)
            {
                Check(type, parameter.Type);
            }

            foreach (BtfDataSecVariable variable in type.Variables)
            {
                Check(type, variable.Type);
                if (types[variable.Type].Kind != BtfKind.Var && types[variable.Type].Kind != BtfKind.Func)
                {
                    throw new GadgetObjectException($"BTF DATASEC '{type.Name}' lists type {variable.Type}, which is not a VAR.");
                }
            }
        }
    }

    private static int Int(ReadOnlySpan<byte> data, int offset, string what) => unchecked((int)Bounds.U32(data, offset, what));

    private static string Name(ReadOnlySpan<byte> data, ReadOnlySpan<byte> strings, int offset, string what)
        => Bounds.CString(strings, Bounds.U32(data, offset, what), $"A name in {what}");

    private static int NonNegative(int value, string what)
        => value >= 0 ? value : throw new GadgetObjectException($"{what} has a size, count or offset too large ({(uint)value}).");
}
