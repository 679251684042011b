using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Xunit;

namespace Gadget.Tests.Bpf;

/// <summary>
/// The C# mirrors of the BPF event structs must match what clang laid out, member by member, or
/// every decoded field after the first difference is garbage. The truth is the compiled object's
/// BTF. Opening an object only parses it, so these tests need no privilege.
/// </summary>
public sealed class StructLayoutTests
{
    /// <summary>
    /// One line per mirrored struct. C members map to C# fields by converting snake_case to
    /// PascalCase (<c>__pad</c> → <c>Pad</c>); <c>Renamed</c> lists the exceptions. A header mirror
    /// stops before a variable-length tail, named by <c>Tail</c>, which must start right after it.
    /// </summary>
    private static readonly StructMirror[] Mirrors =
    [
        new(new ExecGadget(), "gadget_process", typeof(ProcessRecord)),
        new(new ExecGadget(), "exec_event", typeof(ExecRecordHeader), Tail: "args", Renamed: new() { ["args_size"] = nameof(ExecRecordHeader.ArgsSizeUsed) }),
        new(new OpenGadget(), "open_event", typeof(OpenRecordHeader), Tail: "dir", Renamed: new() { ["dir_size"] = nameof(OpenRecordHeader.DirSizeUsed) }),
    ];

    public static TheoryData<string> MirroredStructs => [.. Mirrors.Select(m => m.CStruct)];

    [Theory]
    [MemberData(nameof(MirroredStructs))]
    public void MirrorMatchesCompiledLayout(string cStruct)
    {
        StructMirror mirror = Mirrors.Single(m => m.CStruct == cStruct);
        BtfStruct compiled = ReadStruct(mirror);
        Dictionary<string, FieldInfo> fields = mirror.Type
            .GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .ToDictionary(f => f.Name);
        var matched = new HashSet<string>();

        foreach (BtfMember member in compiled.Members.Where(m => m.Name != mirror.Tail))
        {
            string fieldName = mirror.FieldFor(member.Name);
            Assert.True(fields.TryGetValue(fieldName, out FieldInfo? field),
                $"{mirror.Type.Name} has no field {fieldName} for {mirror.CStruct}.{member.Name}.");
            // Compared as tuples so that a failure names the member.
            Assert.Equal(
                (member.Name, member.Offset, member.Size),
                (member.Name, (int)Marshal.OffsetOf(mirror.Type, field.Name), Marshal.SizeOf(field.FieldType)));
            matched.Add(fieldName);
        }

        // Every C# field mirrors a C member: an extra one would read bytes the kernel never wrote.
        Assert.Equal(fields.Keys.Order(), matched.Order());

        int managedSize = ManagedSize(mirror.Type);
        int expectedSize = mirror.Tail is null ? compiled.Size : compiled[mirror.Tail].Offset;
        Assert.Equal(expectedSize, managedSize);
    }

    [Fact]
    public unsafe void ExecArgsStartRightAfterTheHeader()
    {
        // The decoder slices args at sizeof(ExecRecordHeader); say so explicitly for the one tail we have.
        BtfStruct compiled = ReadStruct(new StructMirror(new ExecGadget(), "exec_event", typeof(ExecRecordHeader)));
        Assert.Equal(compiled["args"].Offset, sizeof(ExecRecordHeader));
        Assert.Equal(ExecRecordHeader.ArgsSize, compiled["args"].Size);
        Assert.Equal(ExecRecordHeader.FilenameSize, compiled["filename"].Size);
    }

    private static BtfStruct ReadStruct(StructMirror mirror)
    {
        using BpfObject bpf = BpfObject.Open(GadgetCatalog.ReadObject(mirror.Gadget), mirror.Gadget.Name);
        return bpf.FindStruct(mirror.CStruct)
            ?? throw new InvalidOperationException($"{mirror.Gadget.ObjectResource} has no BTF for struct {mirror.CStruct}.");
    }

    /// <summary><c>sizeof(T)</c> as the runtime lays T out (what the decoders use), not the marshaller.</summary>
    private static int ManagedSize(Type type)
        => (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
}

/// <summary>A C struct of a gadget's BPF object and the C# struct that mirrors it.</summary>
internal sealed record StructMirror(GadgetDefinition Gadget, string CStruct, Type Type, string? Tail = null, Dictionary<string, string>? Renamed = null)
{
    public string FieldFor(string cMember)
        => Renamed?.GetValueOrDefault(cMember) ?? string.Concat(
            cMember.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(word => char.ToUpperInvariant(word[0]) + word[1..]));
}
