using Gadget.Schema;
using Xunit;

namespace Gadget.Tests.Schema;

/// <summary>The reader on objects written type by type: shapes clang does not make, or makes only sometimes.</summary>
public sealed class WrittenObjectTests
{
    [Fact]
    public void AnAllZeroReadOnlySectionGivesZeroDefaults()
    {
        // An object whose .rodata holds only zeros may keep it as NOBITS: no bytes in the file.
        var b = new BtfBuilder();
        int u64 = b.Int("unsigned long long", 8);
        int limit = b.Var("targ_limit", u64);
        int marker = b.Var("gadget_param_targ_limit", b.Pointer(0));
        b.DataSec(".rodata", 8, (limit, 0, 8));
        b.DataSec(".bss", 8, (marker, 0, 8));
        byte[] elf = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build()), (".rodata", ElfBuilder.NoBits, new byte[8])]);

        ParameterInfo parameter = Assert.Single(GadgetObjectReader.Read(elf).Parameters);
        Assert.Equal(("targ_limit", 0, 8), (parameter.VariableName, parameter.Offset, parameter.Size));
        Assert.Equal(new byte[8], parameter.DefaultValue.ToArray());
    }

    [Fact]
    public void AHugeZeroParameterIsRefusedNotAllocated()
    {
        // NOBITS takes no room in the file, so its size says nothing about the input's.
        var b = new BtfBuilder();
        int u8 = b.Int("unsigned char", 1);
        int huge = b.Var("targ_huge", b.Array(u8, u8, 1 << 30));
        int marker = b.Var("gadget_param_targ_huge", b.Pointer(0));
        b.DataSec(".rodata", 1 << 30, (huge, 0, 1 << 30));
        b.DataSec(".bss", 8, (marker, 0, 8));
        byte[] elf = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build()), (".rodata", ElfBuilder.NoBits, [])]);
        // The section header says 0 bytes; make it say 1 GiB.
        ElfObject parsed = ElfObject.Parse(elf);
        Assert.True(parsed.TryGetSectionInfo(".rodata", out ElfSection? rodata));
        long table = BitConverter.ToInt64(elf, 0x28);
        BitConverter.GetBytes(1L << 30).CopyTo(elf, (int)table + (rodata.Index * 64) + 32);

        var error = Assert.Throws<GadgetObjectException>(() => GadgetObjectReader.Read(elf));
        Assert.Contains("targ_huge", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALinkedObjectsOffsetsComeFromItsBtf()
    {
        // bpftool gen object fills in DATASEC offsets; no symbols are needed then.
        var b = new BtfBuilder();
        int u32 = b.Int("unsigned int", 4);
        int first = b.Var("first", u32);
        int second = b.Var("second", u32);
        b.DataSec(".rodata", 8, (first, 0, 4), (second, 4, 4));
        byte[] elf = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build()), (".rodata", ElfBuilder.ProgBits, [1, 0, 0, 0, 2, 0, 0, 0])]);

        GadgetObjectInfo info = GadgetObjectReader.Read(elf);
        Assert.Equal([("first", 0), ("second", 4)], info.ReadOnlyVariables.Select(v => (v.Name, v.Offset)));
    }

    [Fact]
    public void AClangObjectsOffsetsComeFromItsSymbols()
    {
        var b = new BtfBuilder();
        int u32 = b.Int("unsigned int", 4);
        int first = b.Var("first", u32);
        int second = b.Var("second", u32);
        int marker = b.Var("gadget_param_second", b.Pointer(0));
        b.DataSec(".rodata", 0, (first, 0, 4), (second, 0, 4));
        b.DataSec(".bss", 0, (marker, 0, 8));
        byte[] elf = ElfBuilder.Build(
            [(".BTF", ElfBuilder.ProgBits, b.Build()), (".rodata", ElfBuilder.ProgBits, [1, 0, 0, 0, 2, 0, 0, 0])],
            [("first", ".rodata", 0, 4), ("second", ".rodata", 4, 4)]);

        ParameterInfo parameter = Assert.Single(GadgetObjectReader.Read(elf).Parameters);
        Assert.Equal((4, 2u), (parameter.Offset, BitConverter.ToUInt32(parameter.DefaultValue.Span)));
    }

    [Fact]
    public void AParameterMayHaveTripleUnderscoresInItsName()
    {
        var b = new BtfBuilder();
        int u32 = b.Int("unsigned int", 4);
        b.DataSec(".rodata", 4, (b.Var("targ___odd", u32), 0, 4));
        b.Var("gadget_param_targ___odd", b.Pointer(0));
        byte[] elf = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build()), (".rodata", ElfBuilder.ProgBits, [3, 0, 0, 0])]);
        Assert.Equal("targ___odd", Assert.Single(GadgetObjectReader.Read(elf).Parameters).VariableName);
    }

    [Fact]
    public void AVariableOutsideItsSectionIsAnError()
    {
        var b = new BtfBuilder();
        int u32 = b.Int("unsigned int", 4);
        b.DataSec(".rodata", 0, (b.Var("far", u32), 0, 4));
        byte[] elf = ElfBuilder.Build(
            [(".BTF", ElfBuilder.ProgBits, b.Build()), (".rodata", ElfBuilder.ProgBits, new byte[4])],
            [("far", ".rodata", 1000, 4)]);

        Assert.Contains("far", Assert.Throws<GadgetObjectException>(() => GadgetObjectReader.Read(elf)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATracerStructThatIsOnlyDeclaredIsAnError()
    {
        var b = new BtfBuilder();
        b.Var("gadget_tracer_t___events___event", b.Pointer(0));
        b.Add(BtfKind.Forward, "event", 0);
        byte[] elf = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build())]);

        var error = Assert.Throws<GadgetObjectException>(() => GadgetObjectReader.Read(elf));
        Assert.Contains("only declares", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATracerStructMayBeNamedThroughATypedef()
    {
        var b = new BtfBuilder();
        b.Var("gadget_tracer_t___events___event_t", b.Pointer(0));
        int u32 = b.Int("unsigned int", 4);
        b.Typedef("event_t", b.Struct(string.Empty, 4, ("pid", u32, 0)));
        byte[] elf = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build())]);

        EventSchema schema = Assert.Single(GadgetObjectReader.Read(elf).Tracers).Event;
        Assert.Equal(("event_t", "pid"), (schema.StructName, schema.Fields.Single().Path));
    }

    [Theory]
    [InlineData("gadget_tracer_onlyname")]
    [InlineData("gadget_tracer_a___b")]
    [InlineData("gadget_tracer_a___b___c___d")]
    [InlineData("gadget_tracer_a______c")]
    [InlineData("gadget_mapiter_name")]
    [InlineData("gadget_iter_name")]
    [InlineData("gadget_param_")]
    public void AMalformedMarkerIsAnError(string marker)
    {
        var b = new BtfBuilder();
        b.Var(marker, b.Pointer(0));
        byte[] elf = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build())]);
        Assert.Contains(marker, Assert.Throws<GadgetObjectException>(() => GadgetObjectReader.Read(elf)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ManyHeavyMarkersAreBoundedTogether()
    {
        // Each tracer's struct holds 250 copies of a struct of 250 empty structs: under the limit
        // for one struct, but 2000 of them would take the reader minutes.
        var b = new BtfBuilder();
        int empty = b.Struct("empty", 0);
        int middle = b.Struct("middle", 0, [.. Enumerable.Range(0, 250).Select(i => ($"e{i}", empty, 0))]);
        for (int tracer = 0; tracer < 2000; tracer++)
        {
            b.Struct($"top{tracer}", 0, [.. Enumerable.Range(0, 250).Select(i => ($"m{i}", middle, 0))]);
            b.Var($"gadget_tracer_t{tracer}___events___top{tracer}", 0);
        }

        byte[] elf = ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build())]);
        var error = Assert.Throws<GadgetObjectException>(() => GadgetObjectReader.Read(elf));
        Assert.Contains("marked structs", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnObjectWithoutMarkersDescribesNothing()
    {
        var b = new BtfBuilder();
        b.Int("int", 4);
        GadgetObjectInfo info = GadgetObjectReader.Read(ElfBuilder.Build([(".BTF", ElfBuilder.ProgBits, b.Build())]));
        Assert.Empty(info.Tracers);
        Assert.Empty(info.Snapshots);
        Assert.Empty(info.Parameters);
        Assert.Empty(info.ReadOnlyVariables);
        Assert.Empty(info.Maps);
    }
}
