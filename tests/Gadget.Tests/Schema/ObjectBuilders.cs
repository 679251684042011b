using System.Buffers.Binary;
using System.Text;
using Gadget.Schema;

namespace Gadget.Tests.Schema;

/// <summary>
/// Writes BTF type by type, for shapes clang does not produce (ENUM64, tags, cycles, references to
/// types that do not exist). Ids are handed out in order from 1, so a type can name one added later.
/// </summary>
internal sealed class BtfBuilder
{
    private readonly List<byte> _types = [];
    private readonly List<byte> _strings = [0];

    public int Count { get; private set; }

    public int Add(BtfKind kind, string name, uint sizeOrType, int vlen = 0, bool kindFlag = false, params uint[] extra)
    {
        Put(_types, String(name));
        Put(_types, ((uint)kind << 24) | (uint)vlen | (kindFlag ? 1u << 31 : 0));
        Put(_types, sizeOrType);
        foreach (uint word in extra)
        {
            Put(_types, word);
        }

        return ++Count;
    }

    public int Int(string name, int size, BtfIntEncoding encoding = BtfIntEncoding.None, int bits = 0)
        => Add(BtfKind.Int, name, (uint)size, extra: ((uint)encoding << 24) | (uint)(bits == 0 ? size * 8 : bits));

    public int Pointer(int target) => Add(BtfKind.Pointer, string.Empty, (uint)target);

    public int Typedef(string name, int target) => Add(BtfKind.Typedef, name, (uint)target);

    public int Array(int element, int index, int length) => Add(BtfKind.Array, string.Empty, 0, extra: [(uint)element, (uint)index, (uint)length]);

    public int Struct(string name, int size, params (string Name, int Type, int BitOffset)[] members)
        => Add(BtfKind.Struct, name, (uint)size, members.Length, extra: [.. members.SelectMany(m => new[] { String(m.Name), (uint)m.Type, (uint)m.BitOffset })]);

    public int Var(string name, int type) => Add(BtfKind.Var, name, (uint)type, extra: 1);

    public int DataSec(string name, int size, params (int Var, int Offset, int Size)[] variables)
        => Add(BtfKind.DataSec, name, (uint)size, variables.Length, extra: [.. variables.SelectMany(v => new[] { (uint)v.Var, (uint)v.Offset, (uint)v.Size })]);

    public uint String(string value)
    {
        if (value.Length == 0)
        {
            return 0;
        }

        uint offset = (uint)_strings.Count;
        _strings.AddRange(Encoding.UTF8.GetBytes(value));
        _strings.Add(0);
        return offset;
    }

    public byte[] Build()
    {
        var bytes = new List<byte>();
        Put16(bytes, Btf.Magic);
        bytes.Add(1);
        bytes.Add(0);
        Put(bytes, 24);
        Put(bytes, 0);
        Put(bytes, (uint)_types.Count);
        Put(bytes, (uint)_types.Count);
        Put(bytes, (uint)_strings.Count);
        bytes.AddRange(_types);
        bytes.AddRange(_strings);
        return [.. bytes];
    }

    internal static void Put(List<byte> bytes, uint value)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, value);
        bytes.AddRange(word.ToArray());
    }

    internal static void Put16(List<byte> bytes, ushort value)
    {
        bytes.Add((byte)value);
        bytes.Add((byte)(value >> 8));
    }
}

/// <summary>Writes a minimal ELF64 little-endian relocatable object: named sections and a symbol table.</summary>
internal static class ElfBuilder
{
    public const uint ProgBits = 1;
    public const uint NoBits = 8;

    public static byte[] Build(
        IEnumerable<(string Name, uint Type, byte[] Data)> sections,
        IEnumerable<(string Name, string Section, long Value, long Size)>? symbols = null)
    {
        // Section 0 is null, 1 the section names, then the caller's, then .symtab and .strtab.
        var all = new List<(string Name, uint Type, byte[] Data, uint Link, uint EntrySize)> { (string.Empty, 0, [], 0, 0) };
        all.Add((".shstrtab", 3, [], 0, 0));
        all.AddRange(sections.Select(s => (s.Name, s.Type, s.Data, 0u, 0u)));
        if (symbols is not null)
        {
            var names = new List<byte> { 0 };
            var table = new List<byte>(new byte[24]);
            foreach (var symbol in symbols)
            {
                uint nameOffset = (uint)names.Count;
                names.AddRange(Encoding.UTF8.GetBytes(symbol.Name));
                names.Add(0);
                BtfBuilder.Put(table, nameOffset);
                table.Add(0x11); // global object
                table.Add(0);
                BtfBuilder.Put16(table, (ushort)all.FindIndex(s => s.Name == symbol.Section));
                table.AddRange(BitConverter.GetBytes(symbol.Value));
                table.AddRange(BitConverter.GetBytes(symbol.Size));
            }

            all.Add((".symtab", 2, [.. table], (uint)all.Count + 1, 24));
            all.Add((".strtab", 3, [.. names], 0, 0));
        }

        var sectionNames = new List<byte> { 0 };
        var nameOffsets = new List<uint>();
        foreach (var section in all)
        {
            nameOffsets.Add((uint)sectionNames.Count);
            sectionNames.AddRange(Encoding.UTF8.GetBytes(section.Name));
            sectionNames.Add(0);
        }

        all[1] = (all[1].Name, all[1].Type, [.. sectionNames], 0, 0);

        var file = new List<byte>(new byte[64]);
        var offsets = new List<long>();
        foreach (var section in all)
        {
            while (file.Count % 8 != 0)
            {
                file.Add(0);
            }

            offsets.Add(file.Count);
            if (section.Type != NoBits)
            {
                file.AddRange(section.Data);
            }
        }

        while (file.Count % 8 != 0)
        {
            file.Add(0);
        }

        long tableOffset = file.Count;
        for (int i = 0; i < all.Count; i++)
        {
            BtfBuilder.Put(file, i == 0 ? 0 : nameOffsets[i]);
            BtfBuilder.Put(file, all[i].Type);
            file.AddRange(new byte[16]); // flags, address
            file.AddRange(BitConverter.GetBytes(offsets[i]));
            file.AddRange(BitConverter.GetBytes((long)all[i].Data.Length));
            BtfBuilder.Put(file, all[i].Link);
            BtfBuilder.Put(file, 0);
            file.AddRange(BitConverter.GetBytes(8L));
            file.AddRange(BitConverter.GetBytes((long)all[i].EntrySize));
        }

        byte[] bytes = [.. file];
        "\u007FELF"u8.CopyTo(bytes);
        bytes[4] = 2; // ELFCLASS64
        bytes[5] = 1; // little-endian
        bytes[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x10), 1); // ET_REL
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x12), 247); // EM_BPF
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(0x28), (ulong)tableOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x34), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x3A), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x3C), (ushort)all.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x3E), 1);
        return bytes;
    }
}
