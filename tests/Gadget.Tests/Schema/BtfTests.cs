using System.Buffers.Binary;
using Gadget.Schema;
using Xunit;

namespace Gadget.Tests.Schema;

/// <summary>The BTF parser on compiled objects and on BTF written type by type.</summary>
public sealed class BtfTests
{
    [Fact]
    public void ParsesEveryKind()
    {
        var b = new BtfBuilder();
        int u32 = b.Int("unsigned int", 4);                                        // 1
        int ptr = b.Pointer(u32);                                                  // 2
        int array = b.Array(u32, u32, 3);                                          // 3
        int str = b.Struct("pair", 8, ("a", u32, 0), ("b", u32, 32));              // 4
        int union = b.Add(BtfKind.Union, "either", 4, 1, false, b.String("x"), (uint)u32, 0); // 5
        int enumeration = b.Add(BtfKind.Enum, "color", 4, 2, false, b.String("RED"), 1, b.String("BLUE"), 0xFFFFFFFF); // 6
        int forward = b.Add(BtfKind.Forward, "later", 0, kindFlag: true);          // 7
        int typedef = b.Typedef("u32_t", u32);                                     // 8
        int volatileType = b.Add(BtfKind.Volatile, string.Empty, (uint)typedef);   // 9
        int constType = b.Add(BtfKind.Const, string.Empty, (uint)volatileType);    // 10
        int restrict = b.Add(BtfKind.Restrict, string.Empty, (uint)ptr);           // 11
        int func = b.Add(BtfKind.Func, "main", 13, vlen: 1);                       // 12
        int proto = b.Add(BtfKind.FuncProto, string.Empty, (uint)u32, 2, false, b.String("x"), (uint)u32, 0, 0); // 13
        int variable = b.Var("counter", constType);                               // 14
        int dataSec = b.DataSec(".data", 4, (variable, 0, 4));                    // 15
        int floating = b.Add(BtfKind.Float, "double", 8);                         // 16
        int declTag = b.Add(BtfKind.DeclTag, "tagged", (uint)str, extra: unchecked((uint)-1)); // 17
        int typeTag = b.Add(BtfKind.TypeTag, "user", (uint)u32);                   // 18
        int enum64 = b.Add(BtfKind.Enum64, "big", 8, 2, true, b.String("LOW"), 0xFFFFFFFF, 0xFFFFFFFF, b.String("HIGH"), 0, 1); // 19

        Btf btf = Btf.Parse(b.Build());

        Assert.Equal(20, btf.Types.Count);
        Assert.Equal(Enumerable.Range(1, 19).Select(k => (BtfKind)k), btf.Types.Skip(1).Select(t => t.Kind));
        Assert.Equal((4, 32, BtfIntEncoding.None), (btf[u32].Size, btf[u32].IntBits, btf[u32].IntEncoding));
        Assert.Equal(u32, btf[ptr].ReferencedType);
        Assert.Equal((u32, u32, 3), (btf[array].ArrayElementType, btf[array].ArrayIndexType, btf[array].ArrayLength));
        Assert.Equal([new BtfMember("a", u32, 0, 0), new BtfMember("b", u32, 32, 0)], btf[str].Members);
        Assert.Equal("x", Assert.Single(btf[union].Members).Name);
        Assert.Equal([new BtfEnumValue("RED", 1), new BtfEnumValue("BLUE", 4294967295)], btf[enumeration].EnumValues);
        Assert.True(btf[forward].KindFlag);
        Assert.Equal([new BtfParameter("x", u32), new BtfParameter(string.Empty, 0)], btf[proto].Parameters);
        Assert.Equal((proto, 1), (btf[func].ReferencedType, btf[func].Linkage));
        Assert.Equal((constType, 1), (btf[variable].ReferencedType, btf[variable].Linkage));
        Assert.Equal([new BtfDataSecVariable(variable, 0, 4)], btf[dataSec].Variables);
        Assert.Equal(8, btf[floating].Size);
        Assert.Equal((str, -1), (btf[declTag].ReferencedType, btf[declTag].ComponentIndex));
        Assert.True(btf[typeTag].IsModifier);
        Assert.Equal([new BtfEnumValue("LOW", -1), new BtfEnumValue("HIGH", 1L << 32)], btf[enum64].EnumValues);
        Assert.True(btf[enum64].EnumSigned);

        Assert.True(btf.TryFindType("pair", BtfKind.Struct, out BtfType? pair));
        Assert.Equal(str, pair.Id);
        Assert.False(btf.TryFindType("pair", BtfKind.Union, out _));
        Assert.Equal(u32, btf.SkipModifiers(typeTag).Id);
        Assert.Equal(typedef, btf.SkipModifiers(constType).Id);
        BtfResolvedType resolved = btf.Resolve(constType);
        Assert.Equal((u32, "u32_t"), (resolved.Type.Id, resolved.OutermostTypedef));
        Assert.Equal(12, btf.SizeOf(array));
        Assert.Equal(8, btf.SizeOf(restrict));
    }

    [Fact]
    public void ResolvesTypedefChainsOfACompiledObject()
    {
        Btf btf = Btf.Parse(Section(TestPrograms.Object("markers.bpf.c"), ".BTF"));
        Assert.True(btf.TryFindType("gadget_pid", BtfKind.Typedef, out BtfType? pid));
        BtfResolvedType resolved = btf.Resolve(pid.Id);
        Assert.Equal(["gadget_pid", "__u32"], resolved.TypedefNames);
        Assert.Equal((BtfKind.Int, "unsigned int"), (resolved.Type.Kind, resolved.Type.Name));
    }

    [Fact]
    public void ATypedefCycleIsAnErrorNotAHang()
    {
        var b = new BtfBuilder();
        b.Typedef("a", 2);
        b.Add(BtfKind.Const, string.Empty, 1);
        b.Add(BtfKind.Volatile, string.Empty, 4);
        b.Add(BtfKind.Restrict, string.Empty, 3);
        Btf btf = Btf.Parse(b.Build());
        Assert.Contains("cycle", Assert.Throws<GadgetObjectException>(() => btf.Resolve(1)).Message, StringComparison.Ordinal);
        Assert.Throws<GadgetObjectException>(() => btf.SkipModifiers(3));
        Assert.Throws<GadgetObjectException>(() => btf.SizeOf(1));
    }

    [Fact]
    public void AnArrayOfItselfIsAnError()
    {
        var b = new BtfBuilder();
        b.Array(1, 1, 2);
        Btf btf = Btf.Parse(b.Build());
        Assert.Throws<GadgetObjectException>(() => btf.SizeOf(1));
    }

    [Fact]
    public void AStructThatContainsItselfIsAnError()
    {
        var b = new BtfBuilder();
        b.Struct("loop", 8, ("inner", 1, 0));
        var error = Assert.Throws<GadgetObjectException>(() => new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("loop", "The test"));
        Assert.Contains("loop", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void APointerCycleStillHasATypeName()
    {
        // struct node { struct node *next; }: legal C, and a pointer is not followed into.
        var b = new BtfBuilder();
        b.Struct("node", 8, ("next", 2, 0));
        b.Pointer(1);
        EventSchema schema = new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("node", "The test");
        FieldSchema next = Assert.Single(schema.Fields);
        Assert.Equal((FieldKind.Pointer, "struct node *"), (next.Kind, next.TypeName));
    }

    [Fact]
    public void APointerToAPointerToItselfIsAnError()
    {
        var b = new BtfBuilder();
        b.Int("int", 4);
        b.Struct("s", 8, ("p", 3, 0));
        b.Pointer(3);
        Assert.Throws<GadgetObjectException>(() => new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("s", "The test"));
    }

    [Theory]
    [InlineData(9)]    // member type
    [InlineData(1000)] // far past the end
    public void AReferenceToAMissingTypeIsAnError(int missing)
    {
        var b = new BtfBuilder();
        b.Struct("s", 4, ("m", missing, 0));
        var error = Assert.Throws<GadgetObjectException>(() => Btf.Parse(b.Build()));
        Assert.Contains(missing.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMemberPastTheStructsEndIsAnError()
    {
        var b = new BtfBuilder();
        b.Int("int", 4);
        b.Struct("s", 4, ("a", 1, 0), ("b", 1, 32));
        var error = Assert.Throws<GadgetObjectException>(() => new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("s", "The test"));
        Assert.Contains("'b'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeepNestingIsBounded()
    {
        // Each struct holds the next one: 100 levels, past MaxDepth.
        var b = new BtfBuilder();
        b.Int("int", 4);
        for (int level = 0; level < 100; level++)
        {
            b.Struct($"s{level}", 4, ("inner", level == 99 ? 1 : level + 3, 0));
        }

        Assert.Throws<GadgetObjectException>(() => new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("s0", "The test"));
    }

    [Fact]
    public void ExponentialNestingIsBounded()
    {
        // Each level holds the next one 1000 times: a billion members, all empty at the bottom.
        var b = new BtfBuilder();
        b.Struct("empty", 0);
        for (int level = 0; level < 4; level++)
        {
            b.Struct($"s{level}", 0, [.. Enumerable.Range(0, 1000).Select(i => ($"m{i}", level + 1, 0))]);
        }

        Assert.Throws<GadgetObjectException>(() => new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("s3", "The test"));
    }

    [Fact]
    public void ManyFieldsOfOneBigEnumShareItsMembers()
    {
        var b = new BtfBuilder();
        int big = b.Add(BtfKind.Enum, "big", 4, 0xFFFF, false, [.. Enumerable.Range(0, 0xFFFF).SelectMany(i => new[] { b.String($"V{i}"), (uint)i })]);
        b.Struct("s", 4 * 4096, [.. Enumerable.Range(0, 4096).Select(i => ($"f{i}", big, 32 * i))]);
        EventSchema schema = new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("s", "The test");
        Assert.Equal(4096, schema.Fields.Count);
        Assert.Same(schema.Fields[0].EnumMembers, schema.Fields[^1].EnumMembers);
        Assert.Same(schema.Fields[0].TypeName, schema.Fields[^1].TypeName);
    }

    [Fact]
    public void APathLongerThanAnyRealOneIsAnError()
    {
        // Twenty levels of structs, each member named with 100 characters.
        var b = new BtfBuilder();
        b.Int("int", 4);
        for (int level = 0; level < 20; level++)
        {
            b.Struct($"s{level}", 4, (new string('m', 100), level == 19 ? 1 : level + 3, 0));
        }

        Assert.Contains("path", Assert.Throws<GadgetObjectException>(
            () => new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("s0", "The test")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadsOldStyleIntBitfields()
    {
        // Without kind_flag, the INT itself carries the width and bit offset.
        var b = new BtfBuilder();
        b.Int("unsigned int", 4, bits: 3);
        b.Struct("s", 4, ("flags", 1, 4));
        FieldSchema flags = Assert.Single(new SchemaBuilder(Btf.Parse(b.Build())).BuildStruct("s", "The test").Fields);
        Assert.Equal((0, 4, 4, 3), (flags.Offset, flags.Size, flags.BitOffset, flags.BitSize));
    }

    [Theory]
    [InlineData(0, "magic")]
    [InlineData(2, "version")]
    [InlineData(4, "header")]
    [InlineData(12, "type section")]
    [InlineData(20, "string section")]
    public void RejectsABadHeader(int field, string expected)
    {
        var b = new BtfBuilder();
        b.Int("int", 4);
        byte[] bytes = b.Build();
        if (field == 2)
        {
            bytes[2] = 2;
        }
        else if (field == 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 8);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(field), 0xFFFFFFF0);
        }

        var error = Assert.Throws<GadgetObjectException>(() => Btf.Parse(bytes));
        Assert.Contains(expected, error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void RejectsBigEndianBtf()
    {
        byte[] bytes = new BtfBuilder().Build();
        (bytes[0], bytes[1]) = (bytes[1], bytes[0]);
        Assert.Contains("big-endian", Assert.Throws<GadgetObjectException>(() => Btf.Parse(bytes)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAnUnknownKind()
    {
        var b = new BtfBuilder();
        b.Add((BtfKind)25, "future", 0);
        Assert.Contains("kind 25", Assert.Throws<GadgetObjectException>(() => Btf.Parse(b.Build())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsANameOutsideTheStrings()
    {
        var b = new BtfBuilder();
        b.Int("int", 4);
        byte[] bytes = b.Build();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), 0x7FFFFFFF);
        Assert.Throws<GadgetObjectException>(() => Btf.Parse(bytes));
    }

    [Fact]
    public void RejectsANameWithoutItsEnd()
    {
        var b = new BtfBuilder();
        b.Int("int", 4);
        byte[] bytes = b.Build();
        bytes[^1] = (byte)'x';
        Assert.Contains("NUL", Assert.Throws<GadgetObjectException>(() => Btf.Parse(bytes)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NamesThatAreSuffixesOfOneLongStringAreBounded()
    {
        // Types named by the 4000 suffixes of one 4000-byte string: each name alone is fine, all of
        // them would decode to 8 MB of names from 4 KB of strings.
        var b = new BtfBuilder();
        uint start = b.String(new string('n', 4000));
        for (int i = 0; i < 16000; i++)
        {
            b.Add(BtfKind.Forward, string.Empty, 0);
        }

        byte[] bytes = b.Build();
        for (int i = 0; i < 16000; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24 + (12 * i)), start + (uint)(i % 4000));
        }

        Assert.Contains("overlap", Assert.Throws<GadgetObjectException>(() => Btf.Parse(bytes)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAnOverlongName()
    {
        var b = new BtfBuilder();
        b.Int(new string('n', 5000), 4);
        Assert.Contains("longer than", Assert.Throws<GadgetObjectException>(() => Btf.Parse(b.Build())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsMembersThatRunPastTheTypeSection()
    {
        var b = new BtfBuilder();
        b.Add(BtfKind.Struct, "s", 4, vlen: 0xFFFF);
        Assert.Throws<GadgetObjectException>(() => Btf.Parse(b.Build()));
    }

    internal static ReadOnlyMemory<byte> Section(byte[] elf, string name)
        => ElfObject.Parse(elf).TryGetSection(name, out ReadOnlyMemory<byte> data) ? data : throw new InvalidOperationException($"no {name}");
}
