using System.Reflection;
using System.Text.Json;
using Gadget.Schema;
using Xunit;

namespace Gadget.Tests.Schema;

/// <summary>
/// bpftool as the oracle: on the test programs and on the gadgets the agent embeds, every struct
/// member and every flattened field sits where bpftool says it does.
/// </summary>
public sealed class RepositoryObjectTests
{
    public static TheoryData<string> TestObjects => ["markers.bpf.c", "endpoints.bpf.c", "bitfields.bpf.c"];

    public static TheoryData<string> RepositoryObjects => [.. Objects().Select(o => o.Name)];

    /// <summary>The BPF objects the agent embeds (its resources named *.o), by resource name.</summary>
    internal static IEnumerable<(string Name, byte[] Bytes)> Objects()
    {
        Assembly agent = Assembly.Load(new AssemblyName("gadget-agent"));
        foreach (string resource in agent.GetManifestResourceNames().Where(n => n.EndsWith(".o", StringComparison.Ordinal)).Order())
        {
            using Stream stream = agent.GetManifestResourceStream(resource)!;
            using var bytes = new MemoryStream();
            stream.CopyTo(bytes);
            yield return (resource, bytes.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(TestObjects))]
    public void TestProgramsMatchBpftool(string program) => MatchesBpftool(TestPrograms.ObjectPath(program));

    [Theory]
    [MemberData(nameof(RepositoryObjects))]
    public void RepositoryObjectsMatchBpftool(string resource)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("gadget-schema-").FullName, resource.Replace('/', '_'));
        File.WriteAllBytes(path, Objects().Single(o => o.Name == resource).Bytes);
        try
        {
            MatchesBpftool(path);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void TheAgentEmbedsObjects() => Assert.NotEmpty(Objects());

    [Theory]
    [MemberData(nameof(RepositoryObjects))]
    public void RepositoryObjectsDescribeTheirEvents(string resource)
    {
        GadgetObjectInfo info = GadgetObjectReader.Read(Objects().Single(o => o.Name == resource).Bytes);
        foreach (EventSchema schema in info.Tracers.Select(t => t.Event).Concat(info.Snapshots.Select(s => s.Record)))
        {
            Assert.NotEmpty(schema.Fields);
            Assert.All(schema.Fields, f => Assert.InRange(f.Offset + f.Size, f.Size, schema.Size));
        }

        foreach (TracerInfo tracer in info.Tracers)
        {
            Assert.Contains(tracer.MapName, info.Maps);
        }
    }

    /// <summary>Every STRUCT and UNION member as bpftool prints it, and every flattened field of every named struct.</summary>
    private static void MatchesBpftool(string objectPath)
    {
        Dictionary<int, JsonElement> oracle = TestPrograms.BpftoolTypes(objectPath);
        Btf btf = GadgetObjectReader.Read(File.ReadAllBytes(objectPath)).Btf;
        Assert.Equal(oracle.Count, btf.Types.Count - 1);

        int compared = 0;
        foreach ((int id, JsonElement type) in oracle)
        {
            string kind = type.GetProperty("kind").GetString()!;
            Assert.Equal(kind, KindName(btf[id].Kind));
            if (kind is not ("STRUCT" or "UNION"))
            {
                continue;
            }

            Assert.Equal(type.GetProperty("size").GetInt32(), btf[id].Size);
            var expected = type.GetProperty("members").EnumerateArray().Select(m => (
                Name: m.GetProperty("name").GetString() == "(anon)" ? string.Empty : m.GetProperty("name").GetString()!,
                Type: m.GetProperty("type_id").GetInt32(),
                BitOffset: m.GetProperty("bits_offset").GetInt32(),
                BitfieldSize: m.TryGetProperty("bitfield_size", out JsonElement bits) ? bits.GetInt32() : 0));
            Assert.Equal(expected, btf[id].Members.Select(m => (m.Name, m.Type, m.BitOffset, m.BitfieldSize)));
            compared += btf[id].Members.Count;
        }

        Assert.True(compared > 0);

        var builder = new SchemaBuilder(btf);
        foreach (BtfType structType in btf.TypesOfKind(BtfKind.Struct).Where(t => t.Name.Length > 0))
        {
            foreach (FieldSchema field in builder.BuildStruct(structType).Fields)
            {
                long bits = BitOffsetOf(oracle, structType.Id, field.Path.Split('.'));
                Assert.True(
                    (field.Offset * 8L) + field.BitOffset == bits,
                    $"{structType.Name}.{field.Path}: the reader says byte {field.Offset} bit {field.BitOffset}, bpftool bit {bits}.");
            }
        }
    }

    /// <summary>Walks bpftool's members along a dotted path, looking into anonymous members as C does.</summary>
    private static long BitOffsetOf(Dictionary<int, JsonElement> oracle, int structId, string[] path)
    {
        long offset = 0;
        int current = structId;
        foreach (string segment in path)
        {
            (long memberOffset, int memberType) = FindMember(oracle, current, segment)
                ?? throw new InvalidOperationException($"bpftool shows no member {segment} in type {current}.");
            offset += memberOffset;
            current = SkipTypedefs(oracle, memberType);
        }

        return offset;
    }

    private static (long Offset, int Type)? FindMember(Dictionary<int, JsonElement> oracle, int composite, string name)
    {
        foreach (JsonElement member in oracle[composite].GetProperty("members").EnumerateArray())
        {
            long offset = member.GetProperty("bits_offset").GetInt64();
            int type = member.GetProperty("type_id").GetInt32();
            string memberName = member.GetProperty("name").GetString()!;
            if (memberName == name)
            {
                return (offset, type);
            }

            if (memberName == "(anon)" && FindMember(oracle, SkipTypedefs(oracle, type), name) is { } inner)
            {
                return (offset + inner.Offset, inner.Type);
            }
        }

        return null;
    }

    private static int SkipTypedefs(Dictionary<int, JsonElement> oracle, int id)
    {
        while (oracle[id].GetProperty("kind").GetString() is "TYPEDEF" or "CONST" or "VOLATILE" or "RESTRICT" or "TYPE_TAG")
        {
            id = oracle[id].GetProperty("type_id").GetInt32();
        }

        return id;
    }

    private static string KindName(BtfKind kind) => kind switch
    {
        BtfKind.Pointer => "PTR",
        BtfKind.Forward => "FWD",
        BtfKind.FuncProto => "FUNC_PROTO",
        BtfKind.DataSec => "DATASEC",
        BtfKind.DeclTag => "DECL_TAG",
        BtfKind.TypeTag => "TYPE_TAG",
        _ => kind.ToString().ToUpperInvariant(),
    };
}
