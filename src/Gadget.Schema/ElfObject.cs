namespace Gadget.Schema;

/// <summary>One section of an ELF object.</summary>
/// <param name="Index">Its index in the section header table.</param>
/// <param name="Name">Its name (".BTF", ".rodata", "tracepoint/sched/sched_process_exec").</param>
/// <param name="Type">The ELF section type (1 PROGBITS, 2 SYMTAB, 3 STRTAB, 8 NOBITS, …).</param>
/// <param name="Size">Its size in memory; for NOBITS (.bss) the file holds none of it.</param>
/// <param name="Data">Its bytes in the file: empty for NOBITS.</param>
public sealed record ElfSection(int Index, string Name, uint Type, long Size, ReadOnlyMemory<byte> Data)
{
    public const uint NoBits = 8;
}

/// <summary>One entry of the ELF symbol table.</summary>
/// <param name="Name">The symbol's name.</param>
/// <param name="SectionIndex">The section it lives in (0 when undefined or special).</param>
/// <param name="Value">Its offset within that section, for an object file.</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="Type">STT_* (1 OBJECT, 2 FUNC, 3 SECTION, …).</param>
/// <param name="Binding">STB_* (0 LOCAL, 1 GLOBAL, 2 WEAK).</param>
public sealed record ElfSymbol(string Name, int SectionIndex, long Value, long Size, int Type, int Binding);

/// <summary>
/// The parts of a 64-bit little-endian ELF object that describe a BPF program's data: its
/// sections by name and its symbols. Program code and relocations are left to libbpf.
/// </summary>
public sealed class ElfObject
{
    private const int HeaderSize = 64;
    private const int SectionHeaderSize = 64;
    private const int SymbolSize = 24;
    private const uint SymTab = 2;
    private const ushort ExtendedIndex = 0xFFFF;

    private readonly Dictionary<string, ElfSection> _byName;

    private ElfObject(IReadOnlyList<ElfSection> sections, IReadOnlyList<ElfSymbol> symbols)
    {
        Sections = sections;
        Symbols = symbols;
        // The first section of a name wins: names repeat only in odd objects, and then the first
        // is the one a reader of the section table meets first too.
        _byName = new Dictionary<string, ElfSection>(StringComparer.Ordinal);
        foreach (ElfSection section in sections)
        {
            _byName.TryAdd(section.Name, section);
        }
    }

    /// <summary>Every section, in header table order (index 0, the null section, included).</summary>
    public IReadOnlyList<ElfSection> Sections { get; }

    /// <summary>The names of the sections, in header table order.</summary>
    public IReadOnlyList<string> SectionNames => Sections.Select(s => s.Name).ToArray();

    /// <summary>The symbol table (.symtab), empty when the object has none.</summary>
    public IReadOnlyList<ElfSymbol> Symbols { get; }

    public static ElfObject Parse(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return Parse(new ReadOnlyMemory<byte>(bytes));
    }

    public static ElfObject Parse(ReadOnlyMemory<byte> bytes) => Guard.Parse(() => ParseChecked(bytes));

    private static ElfObject ParseChecked(ReadOnlyMemory<byte> bytes)
    {
        ReadOnlySpan<byte> data = bytes.Span;
        if (data.Length < HeaderSize)
        {
            throw new GadgetObjectException($"The object is {data.Length} bytes long: too short for an ELF header.");
        }

        if (data[0] != 0x7F || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F')
        {
            throw new GadgetObjectException("The object is not an ELF file (its first bytes are not 0x7F 'ELF').");
        }

        if (data[4] != 2)
        {
            throw new GadgetObjectException($"The object is not a 64-bit ELF file (class {data[4]}); BPF objects are ELF64.");
        }

        if (data[5] != 1)
        {
            throw new GadgetObjectException($"The object is not a little-endian ELF file (data encoding {data[5]}).");
        }

        ulong sectionTableOffset = Bounds.U64(data, 0x28, "ELF header");
        int entrySize = Bounds.U16(data, 0x3A, "ELF header");
        long sectionCount = Bounds.U16(data, 0x3C, "ELF header");
        long namesIndex = Bounds.U16(data, 0x3E, "ELF header");
        if (sectionTableOffset == 0)
        {
            throw new GadgetObjectException("The ELF object has no section header table.");
        }

        if (entrySize < SectionHeaderSize)
        {
            throw new GadgetObjectException($"The ELF section header size is {entrySize} bytes; ELF64 needs {SectionHeaderSize}.");
        }

        long tableOffset = (long)Math.Min(sectionTableOffset, long.MaxValue);
        ReadOnlySpan<byte> first = Bounds.Slice(data, tableOffset, SectionHeaderSize, "The ELF section header table");
        // More than 0xFF00 sections, or a name table past that index, spill into section 0's header.
        if (sectionCount == 0)
        {
            sectionCount = (long)Math.Min(Bounds.U64(first, 32, "ELF section 0"), long.MaxValue);
        }

        if (namesIndex == ExtendedIndex)
        {
            namesIndex = Bounds.U32(first, 40, "ELF section 0");
        }

        // The table must fit in the file, which bounds every loop below by the file's size.
        ReadOnlySpan<byte> table = Bounds.Slice(
            data, tableOffset, sectionCount <= data.Length / entrySize ? sectionCount * entrySize : long.MaxValue / 2,
            $"The ELF section header table of {sectionCount} entries");
        if (namesIndex >= sectionCount)
        {
            throw new GadgetObjectException($"The ELF section name table index {namesIndex} is past the {sectionCount} sections.");
        }

        var raw = new (uint NameOffset, uint Type, long Size, ReadOnlyMemory<byte> Data, uint Link)[sectionCount];
        for (int i = 0; i < sectionCount; i++)
        {
            ReadOnlySpan<byte> header = table.Slice(i * entrySize, SectionHeaderSize);
            uint nameOffset = Bounds.U32(header, 0, "ELF section header");
            uint type = Bounds.U32(header, 4, "ELF section header");
            ulong offset = Bounds.U64(header, 24, "ELF section header");
            ulong size = Bounds.U64(header, 32, "ELF section header");
            uint link = Bounds.U32(header, 40, "ELF section header");
            ReadOnlyMemory<byte> content = type == ElfSection.NoBits || i == 0
                ? ReadOnlyMemory<byte>.Empty
                : Bounds.Slice(bytes, (long)Math.Min(offset, long.MaxValue), (long)Math.Min(size, long.MaxValue), $"ELF section {i}");
            raw[i] = (nameOffset, type, (long)Math.Min(size, long.MaxValue), content, link);
        }

        ReadOnlySpan<byte> names = raw[namesIndex].Data.Span;
        var sections = new ElfSection[sectionCount];
        for (int i = 0; i < sectionCount; i++)
        {
            string name = i == 0 ? string.Empty : Bounds.CString(names, raw[i].NameOffset, $"The name of ELF section {i}");
            sections[i] = new ElfSection(i, name, raw[i].Type, raw[i].Size, raw[i].Data);
        }

        return new ElfObject(sections, ReadSymbols(sections, raw.Select(r => r.Link).ToArray()));
    }

    /// <summary>The bytes of the first section called <paramref name="name"/> (empty for NOBITS).</summary>
    public bool TryGetSection(string name, out ReadOnlyMemory<byte> data)
    {
        if (_byName.TryGetValue(name, out ElfSection? section))
        {
            data = section.Data;
            return true;
        }

        data = default;
        return false;
    }

    /// <summary>The first section called <paramref name="name"/>, with its type and size.</summary>
    public bool TryGetSection(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ElfSection? section)
        => _byName.TryGetValue(name, out section);

    /// <summary>The first data symbol called <paramref name="name"/> in section <paramref name="sectionIndex"/>.</summary>
    public ElfSymbol? FindSymbol(string name, int sectionIndex)
    {
        foreach (ElfSymbol symbol in Symbols)
        {
            if (symbol.SectionIndex == sectionIndex && symbol.Name == name)
            {
                return symbol;
            }
        }

        return null;
    }

    private static ElfSymbol[] ReadSymbols(ElfSection[] sections, uint[] links)
    {
        ElfSection? symbolTable = sections.FirstOrDefault(s => s.Type == SymTab);
        if (symbolTable is null)
        {
            return [];
        }

        uint link = links[symbolTable.Index];
        if (link >= sections.Length)
        {
            throw new GadgetObjectException($"The ELF symbol table names string table {link}, past the {sections.Length} sections.");
        }

        ReadOnlySpan<byte> strings = sections[link].Data.Span;
        ReadOnlySpan<byte> table = symbolTable.Data.Span;
        var symbols = new ElfSymbol[table.Length / SymbolSize];
        for (int i = 0; i < symbols.Length; i++)
        {
            ReadOnlySpan<byte> entry = table.Slice(i * SymbolSize, SymbolSize);
            uint nameOffset = Bounds.U32(entry, 0, "ELF symbol");
            byte info = entry[4];
            ushort sectionIndex = Bounds.U16(entry, 6, "ELF symbol");
            ulong value = Bounds.U64(entry, 8, "ELF symbol");
            ulong size = Bounds.U64(entry, 16, "ELF symbol");
            string name = nameOffset == 0 ? string.Empty : Bounds.CString(strings, nameOffset, $"The name of ELF symbol {i}");
            symbols[i] = new ElfSymbol(
                name, sectionIndex, (long)Math.Min(value, long.MaxValue), (long)Math.Min(size, long.MaxValue), info & 0xF, info >> 4);
        }

        return symbols;
    }
}
