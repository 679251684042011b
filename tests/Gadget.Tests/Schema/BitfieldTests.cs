using Gadget.Schema;
using Xunit;

namespace Gadget.Tests.Schema;

/// <summary>
/// Bitfields read through the schema from bytes the host's compiler wrote with known values: the
/// BTF of programs/bitfields.bpf.c against the bytes printed by programs/bitfields_host.c.
/// </summary>
public sealed class BitfieldTests
{
    private static readonly Lazy<(GadgetObjectInfo Info, byte[][] Records)> Compiled = new(() =>
    (
        GadgetObjectReader.Read(TestPrograms.Object("bitfields.bpf.c")),
        [.. TestPrograms.RunOnHost("bitfields_host.c").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Convert.FromHexString)]
    ));

    [Fact]
    public void ReadsBitfieldsAsTheCompilerWroteThem()
    {
        Assert.Equal(
            new Dictionary<string, long>
            {
                ["before"] = 0xDEADBEEF,
                ["low"] = 5,
                ["mid"] = 17,
                ["negative"] = -3,
                ["high"] = 99999,
                ["flag"] = 1,
                ["sign"] = -1,
                ["wide"] = 0x1234567890ABCDE,
                ["after"] = -2,
            },
            Decode("bits", Compiled.Value.Records[0]));
    }

    [Fact]
    public void ReadsBitfieldsOfAPackedStruct()
    {
        Assert.Equal(
            new Dictionary<string, long>
            {
                ["head"] = 7,
                ["odd"] = 0xABCDE,
                ["long_odd"] = 0x123456789A,
                ["tail_bits"] = -5,
            },
            Decode("packed", Compiled.Value.Records[1]));
    }

    [Fact]
    public void KeepsEveryReadInsideTheStruct()
    {
        foreach (TracerInfo tracer in Compiled.Value.Info.Tracers)
        {
            Assert.All(tracer.Event.Fields, f => Assert.InRange(f.Offset + f.Size, f.Size, tracer.Event.Size));
        }
    }

    [Fact]
    public void DescribesTheBitfieldKinds()
    {
        EventSchema bits = Compiled.Value.Info.Tracers.Single(t => t.Name == "bits").Event;
        Assert.Equal((FieldKind.Bool, 1), (bits.Find("flag")!.Kind, bits.Find("flag")!.BitSize));
        Assert.Equal((FieldKind.Enum, true), (bits.Find("sign")!.Kind, bits.Find("sign")!.Signed));
        Assert.Equal([("SIGN_MINUS", -1L), ("SIGN_PLUS", 1L)], bits.Find("sign")!.EnumMembers);
        Assert.False(bits.Find("before")!.IsBitfield);
    }

    [Fact]
    public void AShortRecordReadsNothing()
    {
        FieldSchema after = Compiled.Value.Info.Tracers.Single(t => t.Name == "bits").Event.Find("after")!;
        Assert.False(after.TryReadInteger(new byte[after.Offset + 1], out _));
        Assert.True(after.TryReadInteger(new byte[after.Offset + 2], out _));
    }

    private static Dictionary<string, long> Decode(string tracer, byte[] record)
    {
        EventSchema schema = Compiled.Value.Info.Tracers.Single(t => t.Name == tracer).Event;
        Assert.Equal(schema.Size, record.Length);
        return schema.Fields.ToDictionary(
            f => f.Path,
            f => f.TryReadInteger(record, out long value) ? value : throw new InvalidOperationException($"{f} is not an integer."));
    }
}
