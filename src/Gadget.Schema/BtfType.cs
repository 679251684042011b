namespace Gadget.Schema;

/// <summary>The kinds of BTF type (BTF_KIND_*), with their kernel numbers.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The names of the C kinds they stand for.")]
public enum BtfKind
{
    Void = 0,
    Int = 1,
    Pointer = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Forward = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    DataSec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

/// <summary>How a BTF INT is to be read (BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The names of the C kinds they stand for.")]
[Flags]
public enum BtfIntEncoding
{
    None = 0,
    Signed = 1,
    Char = 2,
    Bool = 4,
}

/// <summary>A member of a struct or union.</summary>
/// <param name="Name">Its name; empty for an anonymous struct or union member.</param>
/// <param name="Type">The id of its type.</param>
/// <param name="BitOffset">Its offset from the start of the struct, in bits.</param>
/// <param name="BitfieldSize">Its width in bits when it is a bitfield declared as such (kind_flag), else 0.</param>
public sealed record BtfMember(string Name, int Type, int BitOffset, int BitfieldSize);

/// <summary>An enumerator. ENUM64 values above <see cref="long.MaxValue"/> keep their bits (two's complement).</summary>
public sealed record BtfEnumValue(string Name, long Value);

/// <summary>A parameter of a FUNC_PROTO; a variadic prototype ends with one whose name is empty and type 0.</summary>
public sealed record BtfParameter(string Name, int Type);

/// <summary>A variable of a DATASEC: its VAR's id, offset and size in the section.</summary>
public sealed record BtfDataSecVariable(int Type, int Offset, int Size);

/// <summary>
/// One BTF type. Which properties mean something depends on <see cref="Kind"/>; the others are
/// 0 or empty.
/// </summary>
public sealed class BtfType
{
    internal BtfType(int id, BtfKind kind, string name, bool kindFlag, int vlen, uint sizeOrType)
    {
        Id = id;
        Kind = kind;
        Name = name;
        KindFlag = kindFlag;
        Vlen = vlen;
        SizeOrType = sizeOrType;
    }

    /// <summary>The void type, id 0.</summary>
    internal static BtfType Void { get; } = new(0, BtfKind.Void, string.Empty, false, 0, 0);

    public int Id { get; }

    public BtfKind Kind { get; }

    /// <summary>The name; empty when anonymous.</summary>
    public string Name { get; }

    /// <summary>
    /// The kind flag: members carry bitfield sizes (STRUCT, UNION), the values are signed (ENUM,
    /// ENUM64), a union is forward-declared (FWD), the tag applies to the type (DECL_TAG).
    /// </summary>
    public bool KindFlag { get; }

    /// <summary>The number of members, values, parameters or variables that follow the type.</summary>
    public int Vlen { get; }

    /// <summary>The raw size/type word, for kinds the named properties do not cover.</summary>
    public uint SizeOrType { get; }

    /// <summary>The size in bytes of an INT, STRUCT, UNION, ENUM, ENUM64, FLOAT or DATASEC.</summary>
    public int Size { get; internal init; }

    /// <summary>
    /// The type referred to by a PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG, DECL_TAG, VAR,
    /// FUNC (its FUNC_PROTO) or FUNC_PROTO (its return type); 0 is void.
    /// </summary>
    public int ReferencedType { get; internal init; }

    public BtfIntEncoding IntEncoding { get; internal init; }

    /// <summary>An INT's bit offset within its storage (old-style bitfields), 0 otherwise.</summary>
    public int IntBitOffset { get; internal init; }

    /// <summary>An INT's width in bits.</summary>
    public int IntBits { get; internal init; }

    public int ArrayElementType { get; internal init; }

    public int ArrayIndexType { get; internal init; }

    /// <summary>An ARRAY's number of elements; 0 for a flexible array member.</summary>
    public int ArrayLength { get; internal init; }

    public IReadOnlyList<BtfMember> Members { get; internal init; } = [];

    public IReadOnlyList<BtfEnumValue> EnumValues { get; internal init; } = [];

    /// <summary>Whether an ENUM or ENUM64's values are signed (<see cref="EnumValues"/> are read so).</summary>
    public bool EnumSigned { get; internal init; }

    public IReadOnlyList<BtfParameter> Parameters { get; internal init; } = [];

    public IReadOnlyList<BtfDataSecVariable> Variables { get; internal init; } = [];

    /// <summary>A VAR's linkage (0 static, 1 global, 2 extern) or a FUNC's (0 static, 1 global, 2 extern).</summary>
    public int Linkage { get; internal init; }

    /// <summary>A DECL_TAG's member or parameter index; -1 when it tags the declaration itself.</summary>
    public int ComponentIndex { get; internal init; }

    /// <summary>True for the kinds that only qualify another type: const, volatile, restrict, type tags.</summary>
    public bool IsModifier => Kind is BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag;

    public override string ToString() => $"[{Id}] {Kind} '{Name}'";
}

/// <summary>
/// A type with its modifiers and typedefs skipped: the type itself, and the typedef names met on the
/// way, outermost first (for <c>const gadget_pid</c>: ["gadget_pid", "__u32"] and the INT).
/// </summary>
public sealed record BtfResolvedType(BtfType Type, IReadOnlyList<string> TypedefNames)
{
    /// <summary>The outermost typedef's name, or null when the type was not reached through one.</summary>
    public string? OutermostTypedef => TypedefNames.Count > 0 ? TypedefNames[0] : null;
}
