using System.Net;
using Gadget.Agent.Decoding;
using Gadget.Protocol.V1;
using Gadget.Schema;
using Gadget.Tests.Gadgets;
using Gadget.Tracing;
using Google.Protobuf;
using Xunit;
using FieldKind = Gadget.Schema.FieldKind;
using WellKnownType = Gadget.Schema.WellKnownType;
using EventSchema = Gadget.Protocol.V1.EventSchema;

namespace Gadget.Tests.Client;

/// <summary>
/// The client reads a trace stream by hand: the schema first, then batches of rows the agent's
/// <see cref="RowBatch"/> wrote. Unknown protobuf fields are skipped, streams of another protocol
/// version are refused, and damaged bytes fail only as malformed.
/// </summary>
public sealed class TraceReplyDecoderTests
{
    private const string Node = ClientRows.Node;

    [Fact]
    public void RowsBecomeTheTypeTheSchemaNames()
    {
        var exec = new AgentRows(TestGadgets.Get("exec"));
        exec.Add(ExecRecord(pid: 7, comm: "sh", args: "sh\0-c\0echo 'hi there'\0\0"u8).Set("proc.ppid", 1).Set("error", 13).Set("args_truncated", 1).Build());

        ExecEvent e = Assert.IsType<ExecEvent>(Assert.Single(exec.ToEvents()));

        Assert.Equal(Node, e.Node);
        Assert.Equal(7, e.Pid);
        Assert.Equal(1, e.Ppid);
        Assert.Equal("sh", e.Comm);
        Assert.Equal(["sh", "-c", "echo 'hi there'", ""], e.Args);
        Assert.Equal(Errno.EACCES, e.Error);
        Assert.True(e.ArgsTruncated);
        Assert.Null(e.Container);
    }

    [Fact]
    public void FieldsAnOlderAgentLacksTakeTheirDefaults()
    {
        // An agent whose program has no error, args_truncated or ppid: the typed event still reads its rows.
        TraceSchema full = TestGadgets.Get("exec").Schema;
        string[] missing = ["error", "args_truncated", "proc.ppid"];
        var older = new TraceSchema(full.Gadget, full.TypeName, full.Description, [.. full.Fields.Where(f => !missing.Contains(f.Name))], full.FixedSize);
        var batch = new RowBatch();
        RowWriter row = batch.Begin(older.FixedSize);
        WriteUInt32(row.Fixed, older.Field("proc.pid")!, 9);
        row.AppendVariable("true"u8); // proc.comm
        row.AppendVariable([]); // proc.thread_comm: the thread's name is the process's
        row.AppendVariable("/bin/true"u8); // exe_path
        row.AppendVariable("true\0"u8); // args
        row.Commit();

        ExecEvent e = Assert.IsType<ExecEvent>(Assert.Single(ClientRows.Decode(older, batch)));

        Assert.Equal(9, e.Pid);
        Assert.Null(e.ThreadName);
        Assert.Equal(0, e.Ppid);
        Assert.Equal(Errno.None, e.Error);
        Assert.False(e.ArgsTruncated);
        Assert.Equal("/bin/true", e.ExePath);
        Assert.Equal(["true"], e.Args);
    }

    [Fact]
    public void FieldsTheClientDoesNotKnowAreSkipped()
    {
        // A newer agent: one more fixed and one more variable field in its schema, and protobuf fields
        // this client has never heard of in every message.
        TraceSchema exec = TestGadgets.Get("exec").Schema;
        SchemaField later = new("later", FieldKind.Int, WellKnownType.None, 8, exec.FixedSize, -1, false, "__u64", [], null, null);
        SchemaField laterText = new("later_text", FieldKind.String, WellKnownType.None, 0, -1, exec.VariableCount, false, "char[8]", [], null, null);
        var newer = new TraceSchema(exec.Gadget, exec.TypeName, exec.Description, [.. exec.Fields, later, laterText]);
        var batch = new RowBatch();
        RowWriter row = batch.Begin(newer.FixedSize);
        WriteUInt32(row.Fixed, newer.Field("proc.pid")!, 3);
        row.Fixed[later.Offset] = 0xff;
        foreach (SchemaField variable in newer.Fields.Where(f => !f.IsFixed).OrderBy(f => f.VariableIndex))
        {
            row.AppendVariable(variable.Name switch
            {
                "exe_path" => "/bin/x"u8,
                "args" => "x\0y\0"u8,
                "later_text" => "later"u8,
                _ => "x"u8,
            });
        }

        row.Commit();
        var decoder = new TraceReplyDecoder(new EventOrigin(Node));

        decoder.Decode(WithUnknownFields(ClientRows.SchemaReply(newer)));
        ExecEvent e = Assert.IsType<ExecEvent>(Assert.Single(ClientRows.Events(decoder, WithUnknownFields(BatchWithUnknownFields(batch)))));

        Assert.Equal(3, e.Pid);
        Assert.Equal("/bin/x", e.ExePath);
        Assert.Equal(["x", "y"], e.Args);
    }

    [Fact]
    public void ContainersAnnouncedInTheBatchEnrichItsEvents()
    {
        // Protobuf writes the batch's containers after its rows: the decoder must look ahead.
        var container = new ContainerInfo { Id = "c1", MntnsId = 4026532999, PodNamespace = "shop", PodName = "web-0", ContainerName = "nginx" };
        container.PodLabels["app"] = "web";
        var agent = new AgentRows(TestGadgets.Get("exec"));
        agent.Add(ExecRecord(pid: 5, comm: "nginx").Set("proc.mntns_id", (long)container.MntnsId).Build());
        agent.Add(ExecRecord(pid: 6, comm: "sshd").Set("proc.mntns_id", 4026531841).Build());
        agent.Batch.Containers.Add(container);
        var decoder = new TraceReplyDecoder(new EventOrigin(Node));
        decoder.Decode(ClientRows.SchemaReply(agent.Schema));

        GadgetEvent[] first = ClientRows.Events(decoder, ClientRows.BatchReply(agent.Batch));

        Assert.Equal(("shop", "web-0", "nginx", "c1"), (first[0].Namespace, first[0].Pod, first[0].Container, first[0].ContainerId));
        Assert.Equal("web", first[0].PodLabels["app"]);
        Assert.Null(first[1].Pod);

        // Later batches refer to the container without announcing it again.
        agent.Batch.Reset();
        agent.Add(ExecRecord(pid: 5, comm: "nginx").Set("proc.mntns_id", (long)container.MntnsId).Build());
        GadgetEvent later = Assert.Single(ClientRows.Events(decoder, ClientRows.BatchReply(agent.Batch)));
        Assert.Equal("web-0", later.Pod);
    }

    [Fact]
    public void BatchesAreSplitIntoChunksInOrder()
    {
        var agent = new AgentRows(TestGadgets.Get("exec"));
        for (int i = 0; i < 1500; i++)
        {
            agent.Add(ExecRecord(pid: i + 1, comm: i % 3 == 0 ? "a" : "bb", args: System.Text.Encoding.UTF8.GetBytes($"/f{i}\0")).Build());
        }

        var decoder = new TraceReplyDecoder(new EventOrigin(Node));
        decoder.Decode(ClientRows.SchemaReply(agent.Schema));
        TraceFrame frame = decoder.Decode(ClientRows.BatchReply(agent.Batch));

        Assert.Equal([512, 512, 476], frame.Chunks.Select(c => c.Length));
        GadgetEvent[] all = [.. frame.Chunks.SelectMany(c => c)];
        Assert.Equal(Enumerable.Range(1, 1500), all.Select(e => e.Pid));
        Assert.All(all, e => Assert.Equal((e.Pid - 1) % 3 == 0 ? "a" : "bb", e.Comm));
        Assert.Equal(["/f1499"], ((ExecEvent)all[^1]).Args);
    }

    [Fact]
    public void CountersAndNoticesBecomeTheirItems()
    {
        var decoder = new TraceReplyDecoder(new EventOrigin(Node));
        var counters = new TraceReply { Counters = new TraceCounters { Seen = 10, Delivered = 7, LostKernel = 1, LostAgent = 2, Final = true } };
        var notice = new TraceReply { Notice = new Notice { Id = "SlowConsumer", Message = "hurry" } };

        TraceFrame schema = decoder.Decode(ClientRows.SchemaReply(TestGadgets.Get("exec").Schema));
        TraceFrame statistics = decoder.Decode(counters.ToByteArray());
        TraceFrame told = decoder.Decode(notice.ToByteArray());

        Assert.Empty(schema.Chunks);
        Assert.Null(schema.Statistics);
        Assert.Equal("exec", decoder.Schema!.Gadget);
        Assert.Empty(statistics.Chunks);
        Assert.Equal((Node, 10ul, 7ul, 1ul, 2ul, true), (statistics.Statistics!.Node, statistics.Statistics.Seen, statistics.Statistics.Delivered, statistics.Statistics.LostKernel, statistics.Statistics.LostAgent, statistics.Statistics.Final));
        Assert.Equal(new TraceNotice(Node, "SlowConsumer", "hurry"), told.Notice);
        Assert.Null(told.Statistics);
        Assert.Empty(decoder.Decode([]).Chunks);
    }

    [Fact]
    public void AStreamThatStartsWithCountersIsOfAnOlderAgent()
    {
        // A protocol 1 agent's first reply: its counters, then events without a schema.
        byte[] counters = new TraceReply { Counters = new TraceCounters { Seen = 0 } }.ToByteArray();

        GadgetException exception = Assert.Throws<GadgetException>(() => new TraceReplyDecoder(new EventOrigin(Node)).Decode(counters));

        Assert.Equal(GadgetErrorId.ProtocolMismatch, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.NotSupported, exception.Kind);
        Assert.Contains("protocol 1", exception.Message, StringComparison.Ordinal);
        Assert.Contains($"protocol {TraceReplyDecoder.ProtocolVersion}", exception.Message, StringComparison.Ordinal);
        Assert.Contains(Node, exception.Message, StringComparison.Ordinal);
        Assert.NotNull(exception.RecommendedAction);
    }

    [Fact]
    public void ABatchBeforeAnySchemaIsOfAnOlderAgent()
    {
        var agent = new AgentRows(TestGadgets.Get("exec"));
        agent.Add(ExecRecord(pid: 1, comm: "x").Build());

        GadgetException exception = Assert.Throws<GadgetException>(() => new TraceReplyDecoder(new EventOrigin(Node)).Decode(ClientRows.BatchReply(agent.Batch)));

        Assert.Equal(GadgetErrorId.ProtocolMismatch, exception.ErrorId);
    }

    [Fact]
    public void ANoticeNeedsNoSchema()
    {
        byte[] notice = new TraceReply { Notice = new Notice { Id = "NoContainerMatches", Message = "none yet" } }.ToByteArray();

        Assert.Equal("NoContainerMatches", new TraceReplyDecoder(new EventOrigin(Node)).Decode(notice).Notice!.Id);
    }

    public static TheoryData<string, Action<EventSchema>> RefusedSchemas => new()
    {
        { "a fixed field past the fixed block", s => s.FixedSize = Fixed(s).Max(f => f.Offset + f.Size) - 1 },
        { "a fixed field at a huge offset", s => Fixed(s).First().Offset = int.MaxValue },
        { "an offset that wraps", s => Fixed(s).First().Offset = uint.MaxValue - 3 },
        { "an integer of 3 bytes", s => Fixed(s).First(f => f.Kind == Protocol.V1.FieldKind.Int).Size = 3 },
        { "an integer of 16 bytes", s => Fixed(s).First(f => f.Kind == Protocol.V1.FieldKind.Int).Size = 16 },
        { "a bool of 2 bytes", s => Fixed(s).First(f => f.Kind == Protocol.V1.FieldKind.Bool).Size = 2 },
        { "a pointer of 4 bytes", s => Fixed(s).First(f => f.Size == 4).Kind = Protocol.V1.FieldKind.Pointer },
        { "an endpoint of the wrong size", s => Fixed(s).First(f => f.Size == 4).Kind = Protocol.V1.FieldKind.L4Endpoint },
        { "a gap in the variable parts", s => s.Fields.Last(f => f.Size == 0).VariableIndex += 1 },
        { "two fields in one variable part", s => s.Fields.Last(f => f.Size == 0).VariableIndex = 0 },
    };

    [Theory]
    [MemberData(nameof(RefusedSchemas))]
    public void SchemasThatDoNotFitTheirRowsAreRefused(string what, Action<EventSchema> damage)
    {
        EventSchema schema = Gadget.Agent.Services.SchemaMessage.Create(TestGadgets.Get("exec").Schema, ClientRows.BootTimeUnixNs);
        damage(schema);
        byte[] reply = new TraceReply { Schema = schema }.ToByteArray();
        var decoder = new TraceReplyDecoder(new EventOrigin(Node));

        InvalidDataException exception = Assert.Throws<InvalidDataException>(() => decoder.Decode(reply));

        Assert.True(exception.Message.Contains("malformed", StringComparison.Ordinal), $"{what}: {exception.Message}");
        Assert.Null(decoder.Schema);
    }

    [Fact]
    public void TheSchemaOfEveryGadgetIsAccepted()
    {
        foreach (Gadget.Agent.Gadgets.GadgetDefinition gadget in Gadget.Agent.Gadgets.GadgetCatalog.Default.All)
        {
            var decoder = new TraceReplyDecoder(new EventOrigin(Node));
            decoder.Decode(ClientRows.SchemaReply(gadget.Schema));

            TraceSchema read = decoder.Schema!;
            Assert.Equal((gadget.Name, gadget.Schema.TypeName, gadget.Schema.FixedSize, gadget.Schema.VariableCount), (read.Gadget, read.TypeName, read.FixedSize, read.VariableCount));
            Assert.Equal(
                gadget.Schema.Fields.Select(f => (f.Name, f.Kind, f.WellKnown, f.Size, f.Offset, f.VariableIndex, f.Signed, f.CType)),
                read.Fields.Select(f => (f.Name, f.Kind, f.WellKnown, f.Size, f.Offset, f.VariableIndex, f.Signed, f.CType)));
            Assert.Equal(gadget.Schema.Fields.Select(f => f.Description), read.Fields.Select(f => f.Description));
        }
    }

    [Fact]
    public void DamagedRepliesFailOnlyAsMalformed()
    {
        var random = new Random(20261126);
        var exec = new AgentRows(TestGadgets.Get("exec"));
        exec.Add(ExecRecord(pid: 1, comm: "sh", args: "sh\0-c\0true\0"u8).Build());
        exec.Batch.Containers.Add(new ContainerInfo { Id = "c", MntnsId = 5 });
        AgentRows dns = DnsRows();
        AgentRows open = new(TestGadgets.Get("open"));
        open.Add(new RecordBuilder(open.Gadget).Set("proc.pid", 3).SetString("proc.comm", "cat").SetString("path", "/etc/hosts").Set("fd", -1).EndInTail(0).Build());
        AgentRows[] streams = [exec, dns, open];

        int decoded = 0, malformed = 0;
        for (int i = 0; i < 60_000; i++)
        {
            AgentRows stream = streams[i % streams.Length];
            byte[] damaged = ClientRows.BatchReply(stream.Batch);
            for (int flips = random.Next(1, 4); flips > 0; flips--)
            {
                damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                damaged = damaged[..random.Next(damaged.Length)];
            }

            var decoder = new TraceReplyDecoder(new EventOrigin(Node));
            decoder.Decode(ClientRows.SchemaReply(stream.Schema));
            try
            {
                foreach (GadgetEvent e in decoder.Decode(damaged).Chunks.SelectMany(c => c))
                {
                    _ = e.ToString();
                }

                decoded++;
            }
            catch (Exception exception) when (exception is InvalidDataException or InvalidProtocolBufferException)
            {
                malformed++;
            }
        }

        Assert.True(decoded > 1000, $"only {decoded} decoded");
        Assert.True(malformed > 1000, $"only {malformed} malformed");
    }

    private static IEnumerable<FieldDescriptor> Fixed(EventSchema schema) => schema.Fields.Where(f => f.Size > 0);

    private static AgentRows DnsRows()
    {
        AgentRows dns = Dns.DnsDecoderTests.Agent();
        dns.Add(Dns.DnsDecoderTests.Record(Dns.DnsWire.Response(0xbeef, "example.test", Dns.DnsWire.TypeAaaa, 3, IPAddress.Parse("192.0.2.1"), IPAddress.Parse("2001:db8::1")), outgoing: false, cookie: 77, bootNs: 5, latencyNs: 1_234_500));
        return dns;
    }

    private static RecordBuilder ExecRecord(int pid, string comm, ReadOnlySpan<byte> args = default)
    {
        var builder = new RecordBuilder(TestGadgets.Get("exec")).Set("proc.pid", pid).Set("proc.tid", pid).SetString("proc.comm", comm).SetString("exe_path", "/bin/" + comm);
        builder.SetBytes("args", args);
        return builder.EndInTail(args.Length);
    }

    private static void WriteUInt32(Span<byte> fixedBlock, SchemaField field, uint value)
        => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(fixedBlock[field.Offset..], value);

    /// <summary>The batch message with fields of a later version inside it.</summary>
    private static byte[] BatchWithUnknownFields(RowBatch batch)
    {
        var output = new MemoryStream();
        var writer = new CodedOutputStream(output);
        batch.ToMessage().WriteTo(writer);
        writer.WriteTag(15, WireFormat.WireType.Varint);
        writer.WriteUInt64(ulong.MaxValue);
        writer.WriteTag(16, WireFormat.WireType.Fixed32);
        writer.WriteFixed32(7);
        writer.WriteTag(EventBatch.RowCountFieldNumber, WireFormat.WireType.Fixed64); // a known number with another type
        writer.WriteFixed64(8);
        writer.Flush();
        var reply = new MemoryStream();
        writer = new CodedOutputStream(reply);
        writer.WriteTag(TraceReply.BatchFieldNumber, WireFormat.WireType.LengthDelimited);
        writer.WriteBytes(ByteString.CopyFrom(output.ToArray()));
        writer.Flush();
        return reply.ToArray();
    }

    /// <summary>A reply followed by fields of a later version.</summary>
    private static byte[] WithUnknownFields(byte[] reply)
    {
        var output = new MemoryStream();
        output.Write(reply);
        var writer = new CodedOutputStream(output);
        writer.WriteTag(17, WireFormat.WireType.Fixed64);
        writer.WriteFixed64(8);
        writer.WriteTag(18, WireFormat.WireType.LengthDelimited);
        writer.WriteString("later");
        writer.Flush();
        return output.ToArray();
    }
}
