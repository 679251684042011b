using System.Net;
using Gadget.Protocol.V1;
using Gadget.Tracing;
using Google.Protobuf;
using Xunit;

namespace Gadget.Tests.Client;

/// <summary>
/// The client reads the Trace stream's protobuf by hand: every field the generated contract writes
/// must come back, unknown fields must be skipped, and damaged bytes must fail only as malformed.
/// </summary>
public sealed class TraceReplyDecoderTests
{
    private const string Node = "node-1";

    [Fact]
    public void OpenEventKeepsEveryField()
    {
        Event wire = Common(pid: 4242, comm: "cat");
        wire.Open = new OpenPayload
        {
            Path = "relative/ü.txt",
            FullPath = "/home/user/relative/ü.txt",
            Fd = -1,
            Error = 2,
            Flags = 0x241, // O_WRONLY|O_CREAT|O_TRUNC
            Mode = 0x81a4, // S_IFREG, rw-r--r--
            PathTruncated = true,
        };

        var open = Assert.IsType<OpenEvent>(Assert.Single(DecodeEvents(Batch(wire))));

        AssertCommon(wire, open);
        Assert.Equal("relative/ü.txt", open.Path);
        Assert.Equal("/home/user/relative/ü.txt", open.FullPath);
        Assert.Equal(-1, open.Fd);
        Assert.Equal(Errno.ENOENT, open.Error);
        Assert.Equal(OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC, open.Flags);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, open.Mode);
        Assert.Equal(FileAccess.Write, open.Access);
        Assert.True(open.PathTruncated);
    }

    [Fact]
    public void AbsentFieldsTakeTheContractsDefaults()
    {
        Event wire = new() { Open = new OpenPayload() };

        var open = Assert.IsType<OpenEvent>(Assert.Single(DecodeEvents(Batch(wire))));

        Assert.Equal("", open.Path);
        Assert.Equal("", open.Comm);
        Assert.Null(open.FullPath);
        Assert.Null(open.Mode);
        Assert.Equal(FileAccess.Read, open.Access);
        Assert.Equal(DateTime.UnixEpoch, open.Timestamp);
        Assert.Null(open.Container);
    }

    [Fact]
    public void ExecEventKeepsItsArgumentsInOrder()
    {
        Event wire = Common(pid: 7, comm: "sh");
        wire.Ppid = 1;
        wire.Exec = new ExecPayload { ExePath = "/bin/sh", Error = 13, ArgsTruncated = true };
        wire.Exec.Args.AddRange(["sh", "-c", "echo 'hi there'", ""]);

        var exec = Assert.IsType<ExecEvent>(Assert.Single(DecodeEvents(Batch(wire))));

        AssertCommon(wire, exec);
        Assert.Equal(1, exec.Ppid);
        Assert.Equal("/bin/sh", exec.ExePath);
        Assert.Equal(["sh", "-c", "echo 'hi there'", ""], exec.Args);
        Assert.Equal(Errno.EACCES, exec.Error);
        Assert.True(exec.ArgsTruncated);
    }

    [Fact]
    public void DnsEventKeepsAddressesPortsAndLatency()
    {
        Event wire = Common(pid: 99, comm: "dig");
        wire.Dns = new DnsPayload
        {
            Response = true,
            PacketType = 0,
            Id = 0xbeef,
            Qtype = 28,
            Name = "example.test.",
            Rcode = 3,
            NumAnswers = 2,
            SrcAddr = ByteString.CopyFrom(IPAddress.Parse("127.0.0.53").GetAddressBytes()),
            SrcPort = 53,
            DstAddr = ByteString.CopyFrom(IPAddress.IPv6Loopback.GetAddressBytes()),
            DstPort = 40000,
            Protocol = 17,
            LatencyNs = 1_234_500,
            Truncated = true,
            SocketCookie = 77,
        };
        wire.Dns.Addresses.Add(ByteString.CopyFrom(IPAddress.Parse("192.0.2.1").GetAddressBytes()));
        wire.Dns.Addresses.Add(ByteString.CopyFrom([1, 2, 3])); // neither IPv4 nor IPv6: left out
        wire.Dns.Addresses.Add(ByteString.CopyFrom(IPAddress.Parse("2001:db8::1").GetAddressBytes()));

        var dns = Assert.IsType<DnsEvent>(Assert.Single(DecodeEvents(Batch(wire))));

        AssertCommon(wire, dns);
        Assert.Equal(DnsQr.Response, dns.Qr);
        Assert.Equal(DnsPacketType.Host, dns.PacketType);
        Assert.Equal(0xbeef, dns.Id);
        Assert.Equal(DnsQueryType.AAAA, dns.QType);
        Assert.Equal("example.test.", dns.Name);
        Assert.Equal(DnsResponseCode.NXDomain, dns.Rcode);
        Assert.Equal(2, dns.NumAnswers);
        Assert.Equal([IPAddress.Parse("192.0.2.1"), IPAddress.Parse("2001:db8::1")], dns.Addresses);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.53"), 53), dns.Src);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 40000), dns.Dst);
        Assert.Equal(IPAddress.Parse("127.0.0.53"), dns.Nameserver);
        Assert.Equal(IpProtocol.Udp, dns.Protocol);
        Assert.Equal(TimeSpan.FromTicks(12_345), dns.Latency);
        Assert.True(dns.Truncated);
    }

    [Fact]
    public void DnsLatencyIsNullOnlyWhenAbsent()
    {
        Event query = Common(pid: 1, comm: "dig");
        query.Dns = new DnsPayload { Rcode = -1 };
        Event instant = Common(pid: 1, comm: "dig");
        instant.Dns = new DnsPayload { Response = true, LatencyNs = 0 };

        GadgetEvent[] events = DecodeEvents(Batch(query, instant));

        var noResponse = Assert.IsType<DnsEvent>(events[0]);
        Assert.Null(noResponse.Latency);
        Assert.Equal(DnsResponseCode.NoResponse, noResponse.Rcode);
        Assert.Equal(IPAddress.None, noResponse.Src.Address);
        Assert.Equal(TimeSpan.Zero, Assert.IsType<DnsEvent>(events[1]).Latency);
    }

    [Fact]
    public void ContainersAnnouncedInTheBatchEnrichItsEvents()
    {
        // Protobuf writes the batch's containers after its events: the decoder must look ahead.
        var container = new ContainerInfo { Id = "c1", MntnsId = 4026532999, PodNamespace = "shop", PodName = "web-0", ContainerName = "nginx" };
        container.PodLabels["app"] = "web";
        Event inContainer = Common(pid: 5, comm: "nginx");
        inContainer.MntnsId = container.MntnsId;
        inContainer.Open = new OpenPayload { Path = "/etc/nginx.conf" };
        Event onHost = Common(pid: 6, comm: "sshd");
        onHost.Open = new OpenPayload { Path = "/etc/passwd" };
        EventBatch batch = Batch(inContainer, onHost);
        batch.Containers.Add(container);

        var decoder = new TraceReplyDecoder(new EventOrigin(Node));
        GadgetEvent[] first = Decode(decoder, batch);

        Assert.Equal(("shop", "web-0", "nginx", "c1"), (first[0].Namespace, first[0].Pod, first[0].Container, first[0].ContainerId));
        Assert.Equal("web", first[0].PodLabels["app"]);
        Assert.Null(first[1].Pod);

        // Later batches refer to the container without announcing it again.
        GadgetEvent later = Assert.Single(Decode(decoder, Batch(inContainer)));
        Assert.Equal("web-0", later.Pod);
    }

    [Fact]
    public void BatchesAreSplitIntoChunksAndUnknownGadgetsLeftOut()
    {
        var events = new List<byte[]>();
        for (int i = 0; i < 1500; i++)
        {
            Event wire = Common(pid: (uint)i + 1, comm: i % 3 == 0 ? "a" : "bb");
            wire.Open = new OpenPayload { Path = $"/f{i}" };
            byte[] bytes = wire.ToByteArray();
            events.Add(i == 700 ? WithUnknownPayload(bytes) : bytes);
        }

        TraceFrame frame = new TraceReplyDecoder(new EventOrigin(Node)).Decode(BatchReply(events));

        Assert.Equal([512, 512, 475], frame.Chunks.Select(c => c.Length));
        GadgetEvent[] all = [.. frame.Chunks.SelectMany(c => c)];
        Assert.DoesNotContain(all, e => e.Pid == 701);
        Assert.Equal([.. Enumerable.Range(1, 1500).Where(pid => pid != 701)], all.Select(e => e.Pid));
        Assert.All(all, e => Assert.Equal((e.Pid - 1) % 3 == 0 ? "a" : "bb", e.Comm));
        Assert.Equal("/f1499", ((OpenEvent)all[^1]).Path);
    }

    [Fact]
    public void FieldsOfANewerAgentAreSkipped()
    {
        Event wire = Common(pid: 3, comm: "x");
        wire.Open = new OpenPayload { Path = "/tmp/a" };
        var output = new MemoryStream();
        var writer = new CodedOutputStream(output);
        wire.WriteTo(writer);
        writer.WriteTag(15, WireFormat.WireType.Varint); // a common field added later
        writer.WriteUInt64(ulong.MaxValue);
        writer.WriteTag(16, WireFormat.WireType.Fixed32);
        writer.WriteFixed32(7);
        writer.WriteTag(17, WireFormat.WireType.Fixed64);
        writer.WriteFixed64(8);
        writer.WriteTag(18, WireFormat.WireType.LengthDelimited);
        writer.WriteString("later");
        writer.WriteTag(Event.PidFieldNumber, WireFormat.WireType.Fixed32); // a known number with another type
        writer.WriteFixed32(12345);
        writer.Flush();

        var open = Assert.IsType<OpenEvent>(Assert.Single(DecodeEvents(BatchReply([output.ToArray()]))));

        Assert.Equal(3, open.Pid);
        Assert.Equal("/tmp/a", open.Path);
    }

    [Fact]
    public void CountersAndNoticesBecomeTheirItems()
    {
        var decoder = new TraceReplyDecoder(new EventOrigin(Node));
        var counters = new TraceReply { Counters = new TraceCounters { Seen = 10, Delivered = 7, LostKernel = 1, LostAgent = 2, Final = true } };
        var notice = new TraceReply { Notice = new Notice { Id = "SlowConsumer", Message = "hurry" } };

        TraceFrame statistics = decoder.Decode(counters.ToByteArray());
        TraceFrame told = decoder.Decode(notice.ToByteArray());

        Assert.Empty(statistics.Chunks);
        Assert.Equal((Node, 10ul, 7ul, 1ul, 2ul, true), (statistics.Statistics!.Node, statistics.Statistics.Seen, statistics.Statistics.Delivered, statistics.Statistics.LostKernel, statistics.Statistics.LostAgent, statistics.Statistics.Final));
        Assert.Equal(new TraceNotice(Node, "SlowConsumer", "hurry"), told.Notice);
        Assert.Null(told.Statistics);
        Assert.Empty(decoder.Decode([]).Chunks);
    }

    [Fact]
    public void DamagedRepliesFailOnlyAsMalformed()
    {
        var random = new Random(20261126);
        Event exec = Common(pid: 1, comm: "sh");
        exec.Exec = new ExecPayload { ExePath = "/bin/sh" };
        exec.Exec.Args.AddRange(["sh", "-c", "true"]);
        Event dns = Common(pid: 2, comm: "dig");
        dns.Dns = new DnsPayload { Name = "a.test.", SrcAddr = ByteString.CopyFrom([127, 0, 0, 1]), Rcode = -1 };
        Event open = Common(pid: 3, comm: "cat");
        open.Open = new OpenPayload { Path = "/etc/hosts", Fd = -1 };
        EventBatch batch = Batch(exec, dns, open);
        batch.Containers.Add(new ContainerInfo { Id = "c", MntnsId = 5 });
        byte[] valid = new TraceReply { Batch = batch }.ToByteArray();

        int decoded = 0, malformed = 0;
        for (int i = 0; i < 100_000; i++)
        {
            byte[] damaged = (byte[])valid.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
            {
                damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                damaged = damaged[..random.Next(damaged.Length)];
            }

            try
            {
                _ = new TraceReplyDecoder(new EventOrigin(Node)).Decode(damaged);
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

    private static Event Common(uint pid, string comm) => new()
    {
        TimestampUnixNs = 1_764_000_000_123_456_789,
        Pid = pid,
        Tid = pid + 1,
        Uid = 1000,
        Gid = 100,
        Comm = comm,
        MntnsId = 4026531841,
        NetnsId = 4026531840,
    };

    private static void AssertCommon(Event wire, GadgetEvent typed)
    {
        Assert.Equal(DateTime.UnixEpoch.AddTicks(wire.TimestampUnixNs / 100), typed.Timestamp);
        Assert.Equal(DateTimeKind.Utc, typed.Timestamp.Kind);
        Assert.Equal(Node, typed.Node);
        Assert.Equal((int)wire.Pid, typed.Pid);
        Assert.Equal((int)wire.Tid, typed.Tid);
        Assert.Equal(wire.Uid, typed.Uid);
        Assert.Equal(wire.Gid, typed.Gid);
        Assert.Equal(wire.Comm, typed.Comm);
        Assert.Equal(wire.MntnsId, typed.MountNsId);
        Assert.Equal(wire.NetnsId, typed.NetNsId);
    }

    private static EventBatch Batch(params Event[] events)
    {
        var batch = new EventBatch();
        batch.Events.AddRange(events);
        return batch;
    }

    private static GadgetEvent[] DecodeEvents(EventBatch batch) => Decode(new TraceReplyDecoder(new EventOrigin(Node)), batch);

    private static GadgetEvent[] DecodeEvents(byte[] reply) => [.. new TraceReplyDecoder(new EventOrigin(Node)).Decode(reply).Chunks.SelectMany(c => c)];

    private static GadgetEvent[] Decode(TraceReplyDecoder decoder, EventBatch batch)
        => [.. decoder.Decode(new TraceReply { Batch = batch }.ToByteArray()).Chunks.SelectMany(c => c)];

    /// <summary>A reply with one batch of already encoded events.</summary>
    private static byte[] BatchReply(IEnumerable<byte[]> events)
    {
        var batch = new MemoryStream();
        var writer = new CodedOutputStream(batch);
        foreach (byte[] wire in events)
        {
            writer.WriteTag(EventBatch.EventsFieldNumber, WireFormat.WireType.LengthDelimited);
            writer.WriteBytes(ByteString.CopyFrom(wire));
        }

        writer.Flush();
        var reply = new MemoryStream();
        writer = new CodedOutputStream(reply);
        writer.WriteTag(TraceReply.BatchFieldNumber, WireFormat.WireType.LengthDelimited);
        writer.WriteBytes(ByteString.CopyFrom(batch.ToArray()));
        writer.Flush();
        return reply.ToArray();
    }

    /// <summary>The event with its payload swapped for one of a gadget this client does not know.</summary>
    private static byte[] WithUnknownPayload(byte[] wire)
    {
        Event parsed = Event.Parser.ParseFrom(wire);
        parsed.ClearPayload();
        var output = new MemoryStream();
        var writer = new CodedOutputStream(output);
        parsed.WriteTo(writer);
        writer.WriteTag(Event.DnsFieldNumber + 10, WireFormat.WireType.LengthDelimited);
        writer.WriteString("a newer gadget's payload");
        writer.Flush();
        return output.ToArray();
    }
}
