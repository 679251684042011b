namespace Gadget.Schema;

/// <summary>
/// Flattens BTF structs into the fields a decoder reads, and describes single values. An instance
/// keeps state while it works: use one per thread.
/// </summary>
public sealed class SchemaBuilder
{
    /// <summary>More fields than any event has; a struct that flattens to more is refused.</summary>
    public const int MaxFields = 8192;

    /// <summary>How deep structs may nest inside an event.</summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// Members visited while flattening one struct. Empty structs nested many times over add no
    /// fields but still cost a visit each; this bounds the work a hostile object can ask for.
    /// </summary>
    internal const int MaxVisits = 1 << 16;

    /// <summary>The longest dotted path of a field; real ones are a few dozen characters.</summary>
    public const int MaxPathLength = 1024;

    public const string L3EndpointStruct = "gadget_l3endpoint_t";
    public const string L4EndpointStruct = "gadget_l4endpoint_t";

    private static readonly Dictionary<string, WellKnownType> WellKnownTypedefs = new(StringComparer.Ordinal)
    {
        ["gadget_timestamp"] = WellKnownType.Timestamp,
        ["gadget_mntns_id"] = WellKnownType.MountNsId,
        ["gadget_netns_id"] = WellKnownType.NetNsId,
        ["gadget_pid"] = WellKnownType.Pid,
        ["gadget_tid"] = WellKnownType.Tid,
        ["gadget_ppid"] = WellKnownType.Ppid,
        ["gadget_ptid"] = WellKnownType.Ptid,
        ["gadget_comm"] = WellKnownType.Comm,
        ["gadget_pcomm"] = WellKnownType.Pcomm,
        ["gadget_thread_comm"] = WellKnownType.ThreadComm,
        ["gadget_uid"] = WellKnownType.Uid,
        ["gadget_gid"] = WellKnownType.Gid,
        ["gadget_errno"] = WellKnownType.Errno,
        ["gadget_signal"] = WellKnownType.Signal,
        ["gadget_syscall"] = WellKnownType.Syscall,
        ["gadget_file_flags"] = WellKnownType.FileFlags,
        ["gadget_file_mode"] = WellKnownType.FileMode,
        ["gadget_bytes"] = WellKnownType.ByteCount,
        ["gadget_duration"] = WellKnownType.Duration,
        ["gadget_kernel_stack"] = WellKnownType.KernelStack,
        ["gadget_argv"] = WellKnownType.Argv,
    };

    private readonly Btf _btf;
    private readonly List<FieldSchema> _fields = [];
    private readonly HashSet<int> _open = [];
    private readonly Dictionary<int, EndpointLayout> _endpoints = [];

    // Shared by every field of the same type: an enum of 65535 values used by thousands of fields
    // would otherwise be copied for each.
    private readonly Dictionary<(int, bool), (string Name, long Value)[]> _enumMembers = [];
    private readonly Dictionary<int, string> _typeNames = [];
    private int _visits;
    private long _totalVisits;
    private int _limit;

    /// <summary>
    /// Members this builder may visit over all its calls: an object that names many structs, each
    /// under <see cref="MaxVisits"/>, could otherwise still take minutes.
    /// </summary>
    internal long TotalVisitLimit { get; init; } = long.MaxValue;

    public SchemaBuilder(Btf btf)
    {
        ArgumentNullException.ThrowIfNull(btf);
        _btf = btf;
    }

    /// <summary>The well-known meaning of a typedef name, <see cref="WellKnownType.None"/> for others.</summary>
    public static WellKnownType WellKnownTypeOf(string typedefName)
        => WellKnownTypedefs.GetValueOrDefault(typedefName, WellKnownType.None);

    /// <summary>Flattens the struct called <paramref name="structName"/>, or says it is missing.</summary>
    public EventSchema BuildStruct(string structName, string neededBy) => Guard.Parse(() => BuildNamedStruct(structName, neededBy));

    /// <summary>Flattens a struct into fields with dotted paths.</summary>
    public EventSchema BuildStruct(BtfType structType) => Guard.Parse(() => BuildStructCore(structType));

    /// <summary>
    /// Describes a value of type <paramref name="typeId"/> as one field at offset 0 (a global
    /// variable): structs other than endpoints are kept whole, as bytes.
    /// </summary>
    public FieldSchema DescribeValue(string name, int typeId) => Guard.Parse(() => DescribeValueCore(name, typeId));

    /// <summary>Where the parts of an endpoint struct sit, from its BTF members.</summary>
    public EndpointLayout ReadEndpointLayout(BtfType endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return Guard.Parse(() => ReadEndpointLayout(endpoint, endpoint.Name == L4EndpointStruct, depth: 0));
    }

    private EventSchema BuildNamedStruct(string structName, string neededBy)
    {
        if (_btf.TryFindType(structName, BtfKind.Struct, out BtfType? type))
        {
            return BuildStructCore(type);
        }

        // A typedef'd struct (typedef struct {...} foo;) names the struct through its typedef.
        if (_btf.TryFindType(structName, BtfKind.Typedef, out BtfType? typedef)
            && _btf.Resolve(typedef.Id).Type is { Kind: BtfKind.Struct } resolved)
        {
            return BuildStructCore(resolved) with { StructName = structName };
        }

        string why = _btf.TryFindType(structName, BtfKind.Forward, out _)
            ? "the object's BTF only declares it (struct without a body)"
            : "the object's BTF has no such struct";
        throw new GadgetObjectException($"{neededBy} names struct '{structName}', but {why}.");
    }

    private EventSchema BuildStructCore(BtfType structType)
    {
        ArgumentNullException.ThrowIfNull(structType);
        if (structType.Kind != BtfKind.Struct)
        {
            throw new GadgetObjectException($"BTF type {structType.Id} '{structType.Name}' is a {structType.Kind}, not a struct.");
        }

        Reset(structType.Size);
        AddMembers(structType, prefix: string.Empty, baseBits: 0, depth: 0, topLevel: true);

        // A record may end inside the struct's last member when it is an array (a variable-length
        // tail), even one left out of the fields (__data): that far, and no shorter.
        int minimum = structType.Size;
        if (structType.Members.Count > 0 && structType.Members[^1] is var last && _btf.Resolve(last.Type).Type.Kind == BtfKind.Array)
        {
            minimum = Math.Clamp(last.BitOffset / 8, 0, structType.Size);
        }

        return new EventSchema(structType.Name, structType.Size, [.. _fields]) { MinimumRecordSize = minimum };
    }

    private FieldSchema DescribeValueCore(string name, int typeId)
    {
        Reset(_btf.SizeOf(typeId));
        AddMember(name, bitOffset: 0, bitfieldSize: 0, typeId, depth: 0, isLastOfTop: false, flattenStructs: false);
        return _fields.Count == 1
            ? _fields[0]
            : throw new GadgetObjectException($"The variable '{name}' has a type that describes no value.");
    }

    private void Reset(int limit)
    {
        _fields.Clear();
        _open.Clear();
        _visits = 0;
        _limit = limit;
    }

    private void AddMembers(BtfType composite, string prefix, long baseBits, int depth, bool topLevel)
    {
        if (depth > MaxDepth)
        {
            throw new GadgetObjectException($"Struct '{composite.Name}' is nested more than {MaxDepth} deep.");
        }

        // A struct cannot contain itself; in a hostile object it would recurse forever.
        if (!_open.Add(composite.Id))
        {
            throw new GadgetObjectException($"Struct '{composite.Name}' (BTF type {composite.Id}) contains itself.");
        }

        IReadOnlyList<BtfMember> members = composite.Members;
        for (int i = 0; i < members.Count; i++)
        {
            if (++_visits > MaxVisits)
            {
                throw new GadgetObjectException($"Struct '{composite.Name}' has more than {MaxVisits} members once nested structs are counted.");
            }

            if (++_totalVisits > TotalVisitLimit)
            {
                throw new GadgetObjectException($"The object's marked structs have more than {TotalVisitLimit} members once nested structs are counted.");
            }

            BtfMember member = members[i];
            // Members named __* are padding by convention.
            if (member.Name.StartsWith("__", StringComparison.Ordinal))
            {
                continue;
            }

            long bitOffset = baseBits + member.BitOffset;
            bool isLast = topLevel && i == members.Count - 1;
            if (member.Name.Length == 0)
            {
                AddAnonymous(member, prefix, bitOffset, depth, isLast);
                continue;
            }

            AddMember(prefix + member.Name, bitOffset, member.BitfieldSize, member.Type, depth, isLast, flattenStructs: true);
        }

        _open.Remove(composite.Id);
    }

    private void AddAnonymous(BtfMember member, string prefix, long bitOffset, int depth, bool isLast)
    {
        BtfType type = _btf.Resolve(member.Type).Type;
        switch (type.Kind)
        {
            case BtfKind.Struct:
                // Its members belong to the enclosing struct, as in C.
                AddMembers(type, prefix, bitOffset, depth + 1, topLevel: false);
                break;
            case BtfKind.Union:
                // Which member is meant is known only to the program: keep the bytes, under the first name.
                string name = FirstMemberName(type) ?? $"union{bitOffset / 8}";
                AddMember(prefix + name, bitOffset, 0, member.Type, depth, isLast, flattenStructs: false);
                break;
            default:
                // An unnamed bitfield is padding.
                break;
        }
    }

    /// <summary>The name of a union's first member, looking through anonymous structs and unions.</summary>
    private string? FirstMemberName(BtfType union)
    {
        BtfType type = union;
        for (int depth = 0; depth < MaxDepth && type.Members.Count > 0; depth++)
        {
            BtfMember first = type.Members[0];
            if (first.Name.Length > 0)
            {
                return first.Name;
            }

            type = _btf.Resolve(first.Type).Type;
        }

        return null;
    }

    private void AddMember(string path, long bitOffset, int bitfieldSize, int typeId, int depth, bool isLastOfTop, bool flattenStructs)
    {
        if (path.Length > MaxPathLength)
        {
            throw new GadgetObjectException($"A field's path is longer than {MaxPathLength} characters: '{path[..64]}…'.");
        }

        BtfResolvedType resolved = _btf.Resolve(typeId);
        BtfType type = resolved.Type;
        WellKnownType wellKnown = FirstWellKnown(resolved.TypedefNames);
        string typeName = resolved.OutermostTypedef ?? TypeNameOf(type);

        bool oldStyleBitfield = type.Kind == BtfKind.Int && (type.IntBitOffset != 0 || type.IntBits != type.Size * 8);
        if (bitfieldSize != 0 || bitOffset % 8 != 0 || oldStyleBitfield)
        {
            AddBitfield(path, bitOffset, bitfieldSize, type, typeName, wellKnown);
            return;
        }

        int offset = ToOffset(bitOffset, path);
        switch (type.Kind)
        {
            case BtfKind.Int:
                bool isBool = type.IntEncoding.HasFlag(BtfIntEncoding.Bool) || type.Name is "_Bool" or "bool";
                if (type.Size is 1 or 2 or 4 or 8)
                {
                    Add(new FieldSchema(path, offset, type.Size, isBool ? FieldKind.Bool : FieldKind.Int, typeName)
                    {
                        WellKnown = wellKnown,
                        Signed = !isBool && type.IntEncoding.HasFlag(BtfIntEncoding.Signed),
                    });
                }
                else
                {
                    // __int128 and odd widths: no reader for them, keep the bytes.
                    Add(new FieldSchema(path, offset, type.Size, FieldKind.Bytes, typeName) { WellKnown = wellKnown });
                }

                break;
            case BtfKind.Float:
                Add(new FieldSchema(path, offset, type.Size, type.Size is 4 or 8 ? FieldKind.Float : FieldKind.Bytes, typeName)
                {
                    WellKnown = wellKnown,
                });
                break;
            case BtfKind.Enum or BtfKind.Enum64 when type.Size is 1 or 2 or 4 or 8:
                Add(new FieldSchema(path, offset, type.Size, FieldKind.Enum, typeName)
                {
                    WellKnown = wellKnown,
                    Signed = type.EnumSigned,
                    EnumMembers = EnumMembersOf(type),
                });
                break;
            case BtfKind.Pointer:
                Add(new FieldSchema(path, offset, 8, FieldKind.Pointer, typeName) { WellKnown = wellKnown });
                break;
            case BtfKind.Array:
                AddArray(path, offset, typeId, resolved, typeName, wellKnown, isLastOfTop);
                break;
            case BtfKind.Struct when type.Name is L3EndpointStruct or L4EndpointStruct:
                bool l4 = type.Name == L4EndpointStruct;
                Add(new FieldSchema(path, offset, type.Size, l4 ? FieldKind.L4Endpoint : FieldKind.L3Endpoint, typeName)
                {
                    WellKnown = l4 ? WellKnownType.L4Endpoint : WellKnownType.L3Endpoint,
                    Endpoint = EndpointLayoutOf(type, l4),
                });
                break;
            case BtfKind.Struct when flattenStructs:
                AddMembers(type, path + ".", bitOffset, depth + 1, topLevel: false);
                break;
            case BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64:
                // Structs kept whole, unions, and enums of no integer width: the bytes as they are.
                Add(new FieldSchema(path, offset, type.Size, FieldKind.Bytes, typeName) { WellKnown = wellKnown });
                break;
            default:
                throw new GadgetObjectException($"'{path}' has BTF type {type.Id} of kind {type.Kind}, which a field cannot have.");
        }
    }

    private void AddArray(string path, int offset, int typeId, BtfResolvedType resolved, string typeName, WellKnownType wellKnown, bool isTail)
    {
        BtfType array = resolved.Type;
        BtfResolvedType element = _btf.Resolve(array.ArrayElementType);
        if (wellKnown == WellKnownType.None)
        {
            wellKnown = FirstWellKnown(element.TypedefNames);
        }

        BtfType e = element.Type;
        bool byteElements = e.Kind == BtfKind.Int && e.Size == 1;
        bool isChar = byteElements && (e.Name == "char" || e.IntEncoding.HasFlag(BtfIntEncoding.Char));
        FieldKind kind = wellKnown switch
        {
            WellKnownType.Argv when byteElements => FieldKind.StringList,
            WellKnownType.Comm or WellKnownType.Pcomm or WellKnownType.ThreadComm when byteElements => FieldKind.String,
            _ when isChar => FieldKind.String,
            _ => FieldKind.Bytes,
        };
        Add(new FieldSchema(path, offset, _btf.SizeOf(typeId), kind, typeName)
        {
            WellKnown = wellKnown,
            ElementCount = array.ArrayLength,
            IsTail = isTail,
        });
    }

    private void AddBitfield(string path, long bitOffset, int bitfieldSize, BtfType type, string typeName, WellKnownType wellKnown)
    {
        if (type.Kind is not (BtfKind.Int or BtfKind.Enum or BtfKind.Enum64))
        {
            throw new GadgetObjectException($"'{path}' is a bitfield or not byte-aligned, but its type is a {type.Kind}, not an integer.");
        }

        int storageSize = type.Size;
        int bits = bitfieldSize;
        if (type.Kind == BtfKind.Int)
        {
            bitOffset += type.IntBitOffset;
            if (bits == 0)
            {
                bits = type.IntBits;
            }
        }

        if (bits == 0)
        {
            bits = storageSize * 8;
        }

        if (storageSize is not (1 or 2 or 4 or 8) || bits > storageSize * 8)
        {
            throw new GadgetObjectException($"Bitfield '{path}' is {bits} bits wide in a {storageSize}-byte integer.");
        }

        // Read the bitfield through its declared type's aligned storage unit, as the C ABI lays it
        // out; a packed struct can move it off that unit, then through the smallest read that covers it.
        long unitBits = storageSize * 8L;
        long unitStart = bitOffset / unitBits * unitBits;
        int size = storageSize;
        if (bitOffset + bits > unitStart + unitBits)
        {
            unitStart = bitOffset / 8 * 8;
            long needed = (bitOffset - unitStart + bits + 7) / 8;
            size = needed switch
            {
                1 => 1,
                2 => 2,
                <= 4 => 4,
                <= 8 => 8,
                _ => throw new GadgetObjectException($"Bitfield '{path}' spans more than 8 bytes."),
            };
        }

        int offset = ToOffset(unitStart, path);
        if (offset + size > _limit && offset + ((bitOffset - unitStart + bits + 7) / 8) <= _limit)
        {
            // A narrow read near the end of the record: step back so that the read stays inside it.
            int back = offset + size - _limit;
            offset -= back;
            unitStart -= back * 8L;
        }

        bool isInt = type.Kind == BtfKind.Int;
        bool signed = isInt ? type.IntEncoding.HasFlag(BtfIntEncoding.Signed) : type.EnumSigned;
        (string Name, long Value)[] enumMembers = isInt ? [] : EnumMembersOf(type);
        // clang before 15 writes a negative enumerator as its 32-bit pattern without marking the
        // enum signed; in a bitfield too narrow for that pattern it can only be the negative value.
        if (!isInt && !signed && type.Kind == BtfKind.Enum && bits < 32 && enumMembers.Any(m => (ulong)m.Value >> bits != 0))
        {
            signed = true;
            enumMembers = EnumMembersOf(type, asInt32: true);
        }

        Add(new FieldSchema(path, offset, size, isInt ? IntKindOf(type) : FieldKind.Enum, typeName)
        {
            WellKnown = wellKnown,
            Signed = signed,
            BitOffset = (int)(bitOffset - unitStart),
            BitSize = bits,
            EnumMembers = enumMembers,
        });
    }

    private static FieldKind IntKindOf(BtfType type)
        => type.IntEncoding.HasFlag(BtfIntEncoding.Bool) || type.Name is "_Bool" or "bool" ? FieldKind.Bool : FieldKind.Int;

    /// <summary>An enum's members; <paramref name="asInt32"/> reads each value's low 32 bits as signed.</summary>
    private (string Name, long Value)[] EnumMembersOf(BtfType type, bool asInt32 = false)
    {
        if (!_enumMembers.TryGetValue((type.Id, asInt32), out (string Name, long Value)[]? members))
        {
            members = [.. type.EnumValues.Select(v => (v.Name, asInt32 ? unchecked((int)v.Value) : v.Value))];
            _enumMembers.Add((type.Id, asInt32), members);
        }

        return members;
    }

    private string TypeNameOf(BtfType type)
    {
        if (!_typeNames.TryGetValue(type.Id, out string? name))
        {
            name = CName(type, 0);
            _typeNames.Add(type.Id, name);
        }

        return name;
    }

    private void Add(FieldSchema field)
    {
        if (field.Offset < 0 || field.Size < 0 || field.Offset > _limit - field.Size)
        {
            throw new GadgetObjectException(
                $"'{field.Path}' lies at bytes {field.Offset}..{(long)field.Offset + field.Size} of a {_limit}-byte value.");
        }

        if (_fields.Count >= MaxFields)
        {
            throw new GadgetObjectException($"The struct flattens to more than {MaxFields} fields.");
        }

        _fields.Add(field);
    }

    /// <summary>An endpoint struct's layout, worked out once per struct however many fields use it.</summary>
    private EndpointLayout EndpointLayoutOf(BtfType endpoint, bool l4)
    {
        if (!_endpoints.TryGetValue(endpoint.Id, out EndpointLayout? layout))
        {
            layout = ReadEndpointLayout(endpoint, l4, 0);
            _endpoints.Add(endpoint.Id, layout);
        }

        return layout;
    }

    private EndpointLayout ReadEndpointLayout(BtfType endpoint, bool l4, int depth)
    {
        if (depth > 1)
        {
            throw new GadgetObjectException($"Struct '{endpoint.Name}' nests endpoints too deep.");
        }

        (int Offset, int Size)? Member(params string[] names)
        {
            foreach (string name in names)
            {
                BtfMember? member = endpoint.Members.FirstOrDefault(m => m.Name == name);
                if (member is not null)
                {
                    int offset = ToOffset(member.BitOffset, $"{endpoint.Name}.{name}");
                    int size = _btf.SizeOf(member.Type);
                    if (offset > endpoint.Size - size)
                    {
                        throw new GadgetObjectException($"'{endpoint.Name}.{name}' lies outside the {endpoint.Size}-byte struct.");
                    }

                    return (offset, size);
                }
            }

            return null;
        }

        var address = Member("addr_raw", "addr");
        var version = Member("version");
        int addressOffset;
        int versionOffset;
        if (address is not null && version is not null)
        {
            addressOffset = address.Value.Offset;
            versionOffset = version.Value.Offset;
            if (address.Value.Size < 16)
            {
                throw new GadgetObjectException($"'{endpoint.Name}' holds its address in {address.Value.Size} bytes; an IPv6 address needs 16.");
            }
        }
        else if (l4 && Member("l3") is { } l3
            && _btf.Resolve(endpoint.Members.First(m => m.Name == "l3").Type).Type is { Kind: BtfKind.Struct } l3Type)
        {
            // The older layout: an L4 endpoint wraps an L3 one.
            EndpointLayout inner = ReadEndpointLayout(l3Type, l4: false, depth + 1);
            addressOffset = l3.Offset + inner.AddressOffset;
            versionOffset = l3.Offset + inner.VersionOffset;
        }
        else
        {
            throw new GadgetObjectException(
                $"Struct '{endpoint.Name}' lacks the members an endpoint needs: 'addr_raw' (or 'addr') and 'version'" +
                (l4 ? ", or an 'l3' endpoint holding them." : "."));
        }

        if (!l4)
        {
            return new EndpointLayout(addressOffset, versionOffset, null, null, 0);
        }

        var port = Member("port") ?? throw new GadgetObjectException($"Struct '{endpoint.Name}' has no 'port' member.");
        var proto = Member("proto_raw", "proto");
        if (proto is { Size: not (1 or 2 or 4) })
        {
            throw new GadgetObjectException($"'{endpoint.Name}' holds its protocol in {proto.Value.Size} bytes.");
        }

        return new EndpointLayout(addressOffset, versionOffset, port.Offset, proto?.Offset, proto?.Size ?? 0);
    }

    private static WellKnownType FirstWellKnown(IReadOnlyList<string> typedefNames)
    {
        foreach (string name in typedefNames)
        {
            WellKnownType wellKnown = WellKnownTypeOf(name);
            if (wellKnown != WellKnownType.None)
            {
                return wellKnown;
            }
        }

        return WellKnownType.None;
    }

    private static int ToOffset(long bitOffset, string path)
        => bitOffset % 8 == 0 && bitOffset / 8 <= int.MaxValue
            ? (int)(bitOffset / 8)
            : throw new GadgetObjectException($"'{path}' starts at bit {bitOffset}, which is not a byte boundary a field can start at.");

    /// <summary>The C spelling of a type without its typedef: <c>struct foo</c>, <c>char[16]</c>, <c>__u8 *</c>.</summary>
    private string CName(BtfType type, int depth)
    {
        if (depth > Btf.MaxChain)
        {
            throw new GadgetObjectException($"BTF type {type.Id} refers through more than {Btf.MaxChain} pointers or arrays: the type graph has a cycle.");
        }

        string Named(string keyword) => type.Name.Length > 0 ? $"{keyword} {type.Name}" : $"{keyword} (anonymous)";
        switch (type.Kind)
        {
            case BtfKind.Void:
                return "void";
            case BtfKind.Struct:
                return Named("struct");
            case BtfKind.Union:
                return Named("union");
            case BtfKind.Enum or BtfKind.Enum64:
                return Named("enum");
            case BtfKind.Forward:
                return Named(type.KindFlag ? "union" : "struct");
            case BtfKind.Pointer:
            {
                BtfResolvedType target = _btf.Resolve(type.ReferencedType);
                return (target.OutermostTypedef ?? CName(target.Type, depth + 1)) + " *";
            }

            case BtfKind.Array:
            {
                // Dimensions in the order C writes them: char x[4][16] is an array of 4 arrays of 16.
                var dimensions = new System.Text.StringBuilder();
                BtfType current = type;
                BtfResolvedType element;
                int step = 0;
                while (true)
                {
                    if (++step > Btf.MaxChain)
                    {
                        throw new GadgetObjectException($"BTF array type {type.Id} has more than {Btf.MaxChain} dimensions.");
                    }

                    dimensions.Append('[').Append(current.ArrayLength).Append(']');
                    element = _btf.Resolve(current.ArrayElementType);
                    if (element.OutermostTypedef is not null || element.Type.Kind != BtfKind.Array)
                    {
                        break;
                    }

                    current = element.Type;
                }

                return (element.OutermostTypedef ?? CName(element.Type, depth + 1)) + dimensions.ToString();
            }

            case BtfKind.FuncProto:
                return "function";
            default:
                return type.Name.Length > 0 ? type.Name : type.Kind.ToString().ToLowerInvariant();
        }
    }
}
