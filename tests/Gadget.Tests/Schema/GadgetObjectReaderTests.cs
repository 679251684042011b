using Gadget.Schema;
using Xunit;

namespace Gadget.Tests.Schema;

/// <summary>The markers and event structs of programs/markers.bpf.c, as the reader describes them.</summary>
public sealed class GadgetObjectReaderTests
{
    private static readonly Lazy<GadgetObjectInfo> Markers = new(() => GadgetObjectReader.Read(TestPrograms.Object("markers.bpf.c")));

    private static EventSchema TraceEvent => Markers.Value.Tracers.Single().Event;

    [Fact]
    public void ReadsTheTracerWithItsMapAndStruct()
    {
        TracerInfo tracer = Assert.Single(Markers.Value.Tracers);
        Assert.Equal("opens", tracer.Name);
        Assert.Equal("events", tracer.MapName);
        Assert.Equal("trace_event", tracer.Event.StructName);
        Assert.Equal(488, tracer.Event.Size);
        Assert.Equal(["events"], Markers.Value.TracerMaps);
    }

    [Fact]
    public void ReadsSnapshotsInBothForms()
    {
        SnapshotInfo iter = Markers.Value.Snapshots.Single(s => s.Name == "procs");
        Assert.Equal("snap_record", iter.Record.StructName);
        Assert.Equal(["dump_tasks", "dump_files"], iter.Programs);
        Assert.Equal(["pid", "comm", "filename"], iter.Record.Fields.Select(f => f.Path));

        SnapshotInfo legacy = Markers.Value.Snapshots.Single(s => s.Name == "legacy");
        Assert.Equal("old_snap_record", legacy.Record.StructName);
        Assert.Empty(legacy.Programs);
    }

    [Fact]
    public void ReadsMapIteratorsAndMaps()
    {
        MapIteratorInfo iterator = Assert.Single(Markers.Value.MapIterators);
        Assert.Equal(("top_counts", "counts"), (iterator.Name, iterator.MapName));

        // A row is the entry as read: the key (__u32) and then the value (__u64) right after it.
        Assert.Equal((4, 8, 128u, 12), (iterator.KeySize, iterator.ValueSize, iterator.MaxEntries, iterator.Record.Size));
        Assert.Equal([("key", 0, 4), ("value", 4, 8)], iterator.Record.Fields.Select(f => (f.Path, f.Offset, f.Size)));
        Assert.Equal(["counts", "events"], Markers.Value.Maps.Order());
    }

    [Fact]
    public void ReadsParametersWithTheirDefaultValues()
    {
        ParameterInfo pid = Parameter("targ_pid");
        Assert.Equal((FieldKind.Int, 4, false), (pid.Type.Kind, pid.Size, pid.Type.Signed));
        Assert.Equal(4242u, BitConverter.ToUInt32(pid.DefaultValue.Span));

        ParameterInfo offset = Parameter("targ_offset");
        Assert.Equal((FieldKind.Int, 8, true), (offset.Type.Kind, offset.Size, offset.Type.Signed));
        Assert.Equal(-7L, BitConverter.ToInt64(offset.DefaultValue.Span));

        ParameterInfo filter = Parameter("gadget_filter_by_mntns");
        Assert.Equal(FieldKind.Bool, filter.Type.Kind);
        Assert.Equal([0], filter.DefaultValue.ToArray());

        ParameterInfo comm = Parameter("targ_comm");
        Assert.Equal((FieldKind.String, 16, 16), (comm.Type.Kind, comm.Size, comm.Type.ElementCount));
        Assert.Equal("bash"u8.ToArray().Concat(new byte[12]), comm.DefaultValue.ToArray());

        // The offsets are where the host writes a value before load: distinct and inside .rodata.
        Assert.True(Markers.Value.Elf.TryGetSectionInfo(".rodata", out ElfSection? rodata));
        Assert.All(Markers.Value.Parameters, p => Assert.InRange(p.Offset + p.Size, p.Size, rodata.Size));
        Assert.Equal(Markers.Value.Parameters.Count, Markers.Value.Parameters.Select(p => p.Offset).Distinct().Count());
        Assert.Equal(4242u, BitConverter.ToUInt32(rodata.Data.Span[pid.Offset..]));
    }

    [Fact]
    public void ListsEveryReadOnlyVariableParameterOrNot()
    {
        Assert.Equal(
            ["gadget_filter_by_mntns", "not_a_param", "targ_comm", "targ_offset", "targ_pid"],
            Markers.Value.ReadOnlyVariables.Select(v => v.Name).Order());
        VariableInfo notParameter = Markers.Value.FindReadOnlyVariable("not_a_param")!;
        Assert.Equal((4, FieldKind.Int), (notParameter.Size, notParameter.Type.Kind));
        Assert.DoesNotContain(Markers.Value.Parameters, p => p.VariableName == "not_a_param");
    }

    /// <summary>Every field of trace_event: nested structs flattened, padding skipped, offsets as clang laid them out.</summary>
    [Fact]
    public void FlattensTheEventStruct()
    {
        (string Path, int Offset, int Size, FieldKind Kind, WellKnownType WellKnown)[] expected =
        [
            ("timestamp", 0, 8, FieldKind.Int, WellKnownType.Timestamp),
            ("proc.comm", 8, 16, FieldKind.String, WellKnownType.Comm),
            ("proc.pid", 24, 4, FieldKind.Int, WellKnownType.Pid),
            ("proc.tid", 28, 4, FieldKind.Int, WellKnownType.Tid),
            ("proc.mntns_id", 32, 8, FieldKind.Int, WellKnownType.MountNsId),
            ("proc.creds.uid", 40, 4, FieldKind.Int, WellKnownType.Uid),
            ("proc.creds.gid", 44, 4, FieldKind.Int, WellKnownType.Gid),
            ("proc.parent.comm", 48, 16, FieldKind.String, WellKnownType.Pcomm),
            ("proc.parent.pid", 64, 4, FieldKind.Int, WellKnownType.Ppid),
            ("netns", 72, 4, FieldKind.Int, WellKnownType.NetNsId),
            ("error", 76, 4, FieldKind.Int, WellKnownType.Errno),
            ("sig", 80, 4, FieldKind.Int, WellKnownType.Signal),
            ("flags", 84, 4, FieldKind.Int, WellKnownType.FileFlags),
            ("mode", 88, 4, FieldKind.Int, WellKnownType.FileMode),
            ("stack", 92, 4, FieldKind.Int, WellKnownType.KernelStack),
            ("syscall", 96, 8, FieldKind.Int, WellKnownType.Syscall),
            ("bytes", 104, 8, FieldKind.Int, WellKnownType.ByteCount),
            ("latency", 112, 8, FieldKind.Int, WellKnownType.Duration),
            ("result", 120, 4, FieldKind.Enum, WellKnownType.None),
            ("dir", 124, 1, FieldKind.Enum, WellKnownType.None),
            ("ok", 125, 1, FieldKind.Bool, WellKnownType.None),
            ("as_u32", 132, 4, FieldKind.Bytes, WellKnownType.None),
            ("anon_a", 136, 2, FieldKind.Int, WellKnownType.None),
            ("anon_b", 138, 2, FieldKind.Int, WellKnownType.None),
            ("named_union", 144, 8, FieldKind.Bytes, WellKnownType.None),
            ("low", 152, 4, FieldKind.Int, WellKnownType.None),
            ("mid", 152, 4, FieldKind.Int, WellKnownType.None),
            ("negative", 152, 4, FieldKind.Int, WellKnownType.None),
            ("high", 152, 4, FieldKind.Int, WellKnownType.None),
            ("small", 156, 2, FieldKind.Int, WellKnownType.None),
            ("raw", 158, 6, FieldKind.Bytes, WellKnownType.None),
            ("ptr", 168, 8, FieldKind.Pointer, WellKnownType.None),
            ("ratio", 176, 8, FieldKind.Float, WellKnownType.None),
            ("src", 184, 20, FieldKind.L3Endpoint, WellKnownType.L3Endpoint),
            ("dst", 204, 24, FieldKind.L4Endpoint, WellKnownType.L4Endpoint),
            ("args", 228, 256, FieldKind.StringList, WellKnownType.Argv),
        ];

        Assert.Equal(expected, TraceEvent.Fields.Select(f => (f.Path, f.Offset, f.Size, f.Kind, f.WellKnown)));
    }

    [Fact]
    public void NamesTheCTypeAsWritten()
    {
        Assert.Equal("gadget_timestamp", Field("timestamp").TypeName);
        Assert.Equal("gadget_comm[16]", Field("proc.comm").TypeName);
        Assert.Equal("gadget_pcomm", Field("proc.parent.comm").TypeName);
        Assert.Equal("enum open_result", Field("result").TypeName);
        Assert.Equal("__u8[6]", Field("raw").TypeName);
        Assert.Equal("__u64 *", Field("ptr").TypeName);
        Assert.Equal("double", Field("ratio").TypeName);
        Assert.Equal("struct gadget_l4endpoint_t", Field("dst").TypeName);
        Assert.Equal("union (anonymous)", Field("as_u32").TypeName);
        Assert.Equal("comm", Field("proc.parent.comm").Name);
    }

    [Fact]
    public void DecodesSignednessAndEnums()
    {
        Assert.True(Field("error").Signed);
        Assert.False(Field("proc.pid").Signed);
        Assert.True(Field("small").Signed);
        Assert.Equal([("OPEN_OK", 0L), ("OPEN_DENIED", 13L), ("OPEN_MISSING", 2L)], Field("result").EnumMembers);
        Assert.True(Field("dir").Signed);
        Assert.Equal([("DIR_IN", -1L), ("DIR_OUT", 1L)], Field("dir").EnumMembers);
        Assert.Empty(Field("proc.pid").EnumMembers);
    }

    [Fact]
    public void DecodesBitfields()
    {
        Assert.Equal((0, 3, false), Bits("low"));
        Assert.Equal((3, 5, false), Bits("mid"));
        Assert.Equal((8, 7, true), Bits("negative"));
        Assert.Equal((15, 17, false), Bits("high"));
        Assert.False(Field("small").IsBitfield);
        Assert.Equal((0, 0), (Field("small").BitOffset, Field("small").BitSize));

        (int, int, bool) Bits(string path) => (Field(path).BitOffset, Field(path).BitSize, Field(path).Signed);
    }

    [Fact]
    public void MarksOnlyATrailingArrayAsTheTail()
    {
        Assert.Equal("args", TraceEvent.Tail?.Path);
        Assert.Single(TraceEvent.Fields, f => f.IsTail);
        Assert.Equal(228, TraceEvent.MinimumRecordSize);

        EventSchema snapshot = Markers.Value.Snapshots.Single(s => s.Name == "procs").Record;
        FieldSchema filename = snapshot.Find("filename")!;
        Assert.True(filename.IsTail);
        Assert.Equal((FieldKind.String, 0, 0), (filename.Kind, filename.ElementCount, filename.Size));
        Assert.False(snapshot.Find("comm")!.IsTail);

        EventSchema legacy = Markers.Value.Snapshots.Single(s => s.Name == "legacy").Record;
        Assert.Null(legacy.Tail);
        Assert.Equal(legacy.Size, legacy.MinimumRecordSize);
    }

    [Fact]
    public void ASkippedTrailingArrayStillShortensTheMinimumRecord()
    {
        EventSchema packet = new SchemaBuilder(Markers.Value.Btf).BuildStruct("packet_event", "The test");
        Assert.Equal(["timestamp"], packet.Fields.Select(f => f.Path));
        Assert.Null(packet.Tail);
        Assert.Equal((12, 80), (packet.MinimumRecordSize, packet.Size));
    }

    [Fact]
    public void CountsArrayElements()
    {
        Assert.Equal(16, Field("proc.comm").ElementCount);
        Assert.Equal(256, Field("args").ElementCount);
        Assert.Equal(6, Field("raw").ElementCount);
        Assert.Equal(0, Field("proc.pid").ElementCount);
    }

    [Fact]
    public void LaysOutEndpoints()
    {
        Assert.Equal(new EndpointLayout(0, 16, null, null, 0), Field("src").Endpoint);
        Assert.Equal(new EndpointLayout(0, 20, 16, 18, 2), Field("dst").Endpoint);
        Assert.Null(Field("proc.pid").Endpoint);
    }

    [Fact]
    public void ReadsTheOlderEndpointLayout()
    {
        EventSchema schema = GadgetObjectReader.Read(TestPrograms.Object("endpoints.bpf.c")).Tracers.Single().Event;
        // struct gadget_l4endpoint_t { struct gadget_l3endpoint_t l3 { addr; version; pad[3] }; port; proto; }
        Assert.Equal(new EndpointLayout(0, 16, null, null, 0), schema.Find("local")!.Endpoint);
        Assert.Equal(new EndpointLayout(0, 16, 20, 22, 2), schema.Find("remote")!.Endpoint);
        Assert.Equal((FieldKind.L4Endpoint, 24), (schema.Find("remote")!.Kind, schema.Find("remote")!.Size));
    }

    [Fact]
    public void AMarkerWhoseStructIsMissingIsAnError()
    {
        var error = Assert.Throws<GadgetObjectException>(() => GadgetObjectReader.Read(TestPrograms.Object("missing_struct.bpf.c")));
        Assert.Contains("no_such_event", error.Message, StringComparison.Ordinal);
        Assert.Contains("gadget_tracer_ghost___events___no_such_event", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AParameterMarkerWithoutItsVariableIsAnError()
    {
        var error = Assert.Throws<GadgetObjectException>(() => GadgetObjectReader.Read(TestPrograms.Object("missing_param.bpf.c")));
        Assert.Contains("targ_nowhere", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnObjectWithoutBtfIsAnError()
    {
        var error = Assert.Throws<GadgetObjectException>(() => GadgetObjectReader.Read(TestPrograms.Object("markers.bpf.c", debugInfo: false)));
        Assert.Contains(".BTF", error.Message, StringComparison.Ordinal);
    }

    private static ParameterInfo Parameter(string name) => Markers.Value.Parameters.Single(p => p.VariableName == name);

    private static FieldSchema Field(string path)
        => TraceEvent.Find(path) ?? throw new InvalidOperationException($"trace_event has no field {path}.");
}
