using System.Buffers.Binary;
using Gadget.Schema;
using Xunit;

namespace Gadget.Tests.Schema;

/// <summary>The ELF reader on a clang object and on objects written to be wrong.</summary>
public sealed class ElfObjectTests
{
    [Fact]
    public void FindsTheSectionsOfACompiledObject()
    {
        ElfObject elf = ElfObject.Parse(TestPrograms.Object("markers.bpf.c"));

        Assert.Contains(".BTF", elf.SectionNames);
        Assert.Contains(".rodata", elf.SectionNames);
        Assert.Contains(".maps", elf.SectionNames);
        Assert.Contains("tracepoint/syscalls/sys_enter_openat", elf.SectionNames);
        Assert.True(elf.TryGetSection(".BTF", out ReadOnlyMemory<byte> btf));
        Assert.Equal(Btf.Magic, BinaryPrimitives.ReadUInt16LittleEndian(btf.Span));
        Assert.False(elf.TryGetSection(".nothing", out _));

        // .bss takes room in memory but none in the file.
        Assert.True(elf.TryGetSectionInfo(".bss", out ElfSection? bss));
        Assert.Equal(ElfSection.NoBits, bss.Type);
        Assert.True(bss.Size > 0);
        Assert.True(bss.Data.IsEmpty);

        Assert.Contains(elf.Symbols, s => s.Name == "targ_pid" && elf.Sections[s.SectionIndex].Name == ".rodata");
    }

    [Fact]
    public void ReadsAWrittenObject()
    {
        byte[] bytes = ElfBuilder.Build(
            [(".BTF", ElfBuilder.ProgBits, [1, 2, 3]), (".bss", ElfBuilder.NoBits, new byte[16])],
            [("counter", ".bss", 8, 8)]);
        ElfObject elf = ElfObject.Parse(bytes);
        Assert.Equal(["", ".shstrtab", ".BTF", ".bss", ".symtab", ".strtab"], elf.SectionNames);
        Assert.True(elf.TryGetSection(".BTF", out ReadOnlyMemory<byte> data));
        Assert.Equal([1, 2, 3], data.ToArray());
        ElfSymbol counter = elf.FindSymbol("counter", 3)!;
        Assert.Equal((8L, 8L), (counter.Value, counter.Size));
    }

    public static TheoryData<string, int, byte[], string> BrokenHeaders => new()
    {
        { "not ELF", 0, "MZ"u8.ToArray(), "not an ELF" },
        { "32-bit", 4, [1], "64-bit" },
        { "big-endian", 5, [2], "little-endian" },
        { "table past the end", 0x28, BitConverter.GetBytes(0x7FFF_FFFF_FFFFL), "section header table" },
        { "table offset overflowing", 0x28, BitConverter.GetBytes(ulong.MaxValue), "section header table" },
        { "short entries", 0x3A, BitConverter.GetBytes((ushort)16), "header size" },
        { "too many sections", 0x3C, BitConverter.GetBytes((ushort)0xFF00), "section header table" },
        { "name table past the sections", 0x3E, BitConverter.GetBytes((ushort)200), "name table" },
    };

    [Theory]
    [MemberData(nameof(BrokenHeaders))]
    public void RejectsABrokenHeader(string why, int offset, byte[] patch, string expected)
    {
        byte[] bytes = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, [1, 2, 3])]);
        patch.CopyTo(bytes, offset);
        var error = Assert.Throws<GadgetObjectException>(() => ElfObject.Parse(bytes));
        Assert.True(error.Message.Contains(expected, StringComparison.OrdinalIgnoreCase), $"{why}: {error.Message}");
    }

    [Fact]
    public void RejectsASectionOutsideTheFile()
    {
        byte[] bytes = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, [1, 2, 3])]);
        long table = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(0x28));
        // Section 2's size field.
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan((int)table + (2 * 64) + 32), 1L << 40);
        Assert.Contains("ELF section 2", Assert.Throws<GadgetObjectException>(() => ElfObject.Parse(bytes)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAShortFile()
    {
        Assert.Throws<GadgetObjectException>(() => ElfObject.Parse([]));
        Assert.Throws<GadgetObjectException>(() => ElfObject.Parse(new byte[10]));
    }
}
