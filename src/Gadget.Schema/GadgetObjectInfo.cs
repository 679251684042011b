namespace Gadget.Schema;

/// <summary>A streaming tracer: records of <see cref="Event"/> arrive in the ring buffer <see cref="MapName"/>.</summary>
public sealed record TracerInfo(string Name, string MapName, EventSchema Event);

/// <summary>A snapshot: running the iterator <see cref="Programs"/> gives records of <see cref="Record"/>.</summary>
public sealed record SnapshotInfo(string Name, EventSchema Record, IReadOnlyList<string> Programs);

/// <summary>A hash map read periodically (top-style statistics).</summary>
public sealed record MapIteratorInfo(string Name, string MapName)
{
    /// <summary>An entry as the host reads it: the key's fields, then the value's at the key's size.</summary>
    public EventSchema Record { get; init; } = new(string.Empty, 0, []);

    /// <summary>sizeof the key; the value starts there in <see cref="Record"/>.</summary>
    public int KeySize { get; init; }

    public int ValueSize { get; init; }

    /// <summary>The map's max_entries as the object declares it (0 when it does not).</summary>
    public uint MaxEntries { get; init; }
}

/// <summary>A global variable of a data section (.rodata): where it sits and what it holds.</summary>
/// <param name="Name">The C variable's name.</param>
/// <param name="Offset">Its offset in the section.</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="Type">Its value, described as one field at offset 0.</param>
public sealed record VariableInfo(string Name, int Offset, int Size, FieldSchema Type);

/// <summary>A <c>const volatile</c> global that users may set, with the value it has when not set.</summary>
/// <param name="VariableName">The C variable's name.</param>
/// <param name="Type">Its value, described as one field at offset 0.</param>
/// <param name="DefaultValue">
/// Its <see cref="Size"/> bytes from the object's .rodata: a view of the bytes the object was read
/// from (copy them before changing that buffer).
/// </param>
public sealed record ParameterInfo(string VariableName, FieldSchema Type, ReadOnlyMemory<byte> DefaultValue)
{
    /// <summary>Its offset in .rodata, where a new value is written before load.</summary>
    public int Offset { get; init; }

    public int Size { get; init; }
}

/// <summary>What a compiled gadget object declares it produces, read from its BTF markers.</summary>
public sealed class GadgetObjectInfo
{
    internal GadgetObjectInfo(ElfObject elf, Btf btf)
    {
        Elf = elf;
        Btf = btf;
    }

    public ElfObject Elf { get; }

    public Btf Btf { get; }

    public IReadOnlyList<TracerInfo> Tracers { get; internal init; } = [];

    /// <summary>Ring buffers marked as tracers' (each with a per-CPU <c>&lt;map&gt;_lost_samples</c> beside it).</summary>
    public IReadOnlyList<string> TracerMaps { get; internal init; } = [];

    public IReadOnlyList<SnapshotInfo> Snapshots { get; internal init; } = [];

    public IReadOnlyList<MapIteratorInfo> MapIterators { get; internal init; } = [];

    public IReadOnlyList<ParameterInfo> Parameters { get; internal init; } = [];

    /// <summary>Every variable of .rodata: the constants a host may set before load (gadget_filter_by_mntns, …).</summary>
    public IReadOnlyList<VariableInfo> ReadOnlyVariables { get; internal init; } = [];

    /// <summary>The names of the maps declared in .maps.</summary>
    public IReadOnlyList<string> Maps { get; internal init; } = [];

    /// <summary>The .rodata variable called <paramref name="name"/>, or null.</summary>
    public VariableInfo? FindReadOnlyVariable(string name) => ReadOnlyVariables.FirstOrDefault(v => v.Name == name);
}
