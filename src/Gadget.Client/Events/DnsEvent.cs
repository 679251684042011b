using System.Net;
using System.Runtime.CompilerServices;
using Gadget.Protocol.V1;
using Gadget.Tracing;

namespace Gadget;

/// <summary>
/// A DNS message a local socket sent or received (gadget <c>dns</c>), or a query that got no
/// response in time: then <see cref="Rcode"/> is <see cref="DnsResponseCode.NoResponse"/>, the
/// other fields (including <see cref="GadgetEvent.Timestamp"/>) are the query's, and
/// <see cref="Latency"/> is null.
/// </summary>
public sealed class DnsEvent : GadgetEvent
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal DnsEvent(in WireEvent source, EventOrigin origin)
        : base(source, origin)
    {
        var addresses = new List<IPAddress>();
        IPAddress srcAddress = IPAddress.None, dstAddress = IPAddress.None;
        ushort srcPort = 0, dstPort = 0;
        var payload = new WireReader(source.Payload);
        while (payload.TryReadTag(out int field, out WireType type))
        {
            switch (field)
            {
                case DnsPayload.ResponseFieldNumber when type == WireType.Varint:
                    Qr = payload.ReadBool() ? DnsQr.Response : DnsQr.Query;
                    break;
                case DnsPayload.PacketTypeFieldNumber when type == WireType.Varint:
                    PacketType = (DnsPacketType)payload.ReadUInt32();
                    break;
                case DnsPayload.IdFieldNumber when type == WireType.Varint:
                    Id = payload.ReadUInt16();
                    break;
                case DnsPayload.QtypeFieldNumber when type == WireType.Varint:
                    QType = (DnsQueryType)payload.ReadUInt32();
                    break;
                case DnsPayload.NameFieldNumber when type == WireType.LengthDelimited:
                    Name = payload.ReadString();
                    break;
                case DnsPayload.RcodeFieldNumber when type == WireType.Varint:
                    Rcode = (DnsResponseCode)payload.ReadInt32();
                    break;
                case DnsPayload.NumAnswersFieldNumber when type == WireType.Varint:
                    NumAnswers = (int)payload.ReadUInt32();
                    break;
                case DnsPayload.AddressesFieldNumber when type == WireType.LengthDelimited:
                    if (Address(payload.ReadBytes()) is IPAddress answer)
                    {
                        addresses.Add(answer);
                    }

                    break;
                case DnsPayload.SrcAddrFieldNumber when type == WireType.LengthDelimited:
                    srcAddress = Address(payload.ReadBytes()) ?? IPAddress.None;
                    break;
                case DnsPayload.SrcPortFieldNumber when type == WireType.Varint:
                    srcPort = payload.ReadUInt16();
                    break;
                case DnsPayload.DstAddrFieldNumber when type == WireType.LengthDelimited:
                    dstAddress = Address(payload.ReadBytes()) ?? IPAddress.None;
                    break;
                case DnsPayload.DstPortFieldNumber when type == WireType.Varint:
                    dstPort = payload.ReadUInt16();
                    break;
                case DnsPayload.ProtocolFieldNumber when type == WireType.Varint:
                    Protocol = (IpProtocol)payload.ReadUInt32();
                    break;
                case DnsPayload.LatencyNsFieldNumber when type == WireType.Varint:
                    Latency = TimeSpan.FromTicks((long)(payload.ReadVarint() / 100));
                    break;
                case DnsPayload.TruncatedFieldNumber when type == WireType.Varint:
                    Truncated = payload.ReadBool();
                    break;
                default:
                    payload.Skip(type);
                    break;
            }
        }

        Addresses = new IPAddressList([.. addresses]);
        Src = new IPEndPoint(srcAddress, srcPort);
        Dst = new IPEndPoint(dstAddress, dstPort);
        Nameserver = Qr == DnsQr.Query ? Dst.Address : Src.Address;
    }

    /// <summary>Query or Response: the header's QR bit.</summary>
    public DnsQr Qr { get; }

    /// <summary>Outgoing: a local socket sent it; Host: a local socket received it.</summary>
    public DnsPacketType PacketType { get; }

    /// <summary>The DNS message id.</summary>
    public ushort Id { get; }

    /// <summary>The first question's type.</summary>
    public DnsQueryType QType { get; }

    /// <summary>The first question's name, fully qualified with a trailing dot.</summary>
    public string Name { get; } = "";

    /// <summary>
    /// The response code: NoError (0) on a successful response and on a query; NXDomain, ServFail,
    /// Refused … on a failed response; NoResponse on a query that got no response in time.
    /// </summary>
    public DnsResponseCode Rcode { get; }

    /// <summary>The number of answer records (the header's ANCOUNT).</summary>
    public int NumAnswers { get; }

    /// <summary>The A and AAAA answers (a list of IPAddress that prints as "a, b").</summary>
    public IPAddressList Addresses { get; }

    /// <summary>The server: the destination of a query, the source of a response.</summary>
    public IPAddress Nameserver { get; }

    public IPEndPoint Src { get; }

    public IPEndPoint Dst { get; }

    /// <summary>Udp or Tcp.</summary>
    public IpProtocol Protocol { get; }

    /// <summary>On a response: the time since its query left the same socket, measured in the kernel.</summary>
    public TimeSpan? Latency { get; }

    /// <summary>True when the message was longer than the 512 bytes captured, so answers may be missing.</summary>
    public bool Truncated { get; }

    /// <summary>An IPv4 or IPv6 address; null for any other length.</summary>
    private static IPAddress? Address(ReadOnlySpan<byte> bytes) => bytes.Length is 4 or 16 ? new IPAddress(bytes) : null;
}

/// <summary>The QR bit of a DNS header.</summary>
public enum DnsQr
{
    Query = 0,
    Response = 1,
}

/// <summary>Where a packet went, with Linux's PACKET_* values.</summary>
public enum DnsPacketType
{
    /// <summary>Received by a local socket.</summary>
    Host = 0,
    Broadcast = 1,
    Multicast = 2,
    OtherHost = 3,
    /// <summary>Sent by a local socket.</summary>
    Outgoing = 4,
    Loopback = 5,
    User = 6,
    Kernel = 7,
}

/// <summary>IANA transport protocol numbers.</summary>
public enum IpProtocol
{
    Tcp = 6,
    Udp = 17,
}

/// <summary>DNS RR types (IANA). Values without a name here are kept as numbers.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "PTR is the record type's registered name.")]
public enum DnsQueryType : ushort
{
    A = 1,
    NS = 2,
    CNAME = 5,
    SOA = 6,
    WKS = 11,
    PTR = 12,
    HINFO = 13,
    MINFO = 14,
    MX = 15,
    TXT = 16,
    AAAA = 28,
    LOC = 29,
    SRV = 33,
    NAPTR = 35,
    DNAME = 39,
    OPT = 41,
    DS = 43,
    SSHFP = 44,
    RRSIG = 46,
    NSEC = 47,
    DNSKEY = 48,
    NSEC3 = 50,
    TLSA = 52,
    SVCB = 64,
    HTTPS = 65,
    SPF = 99,
    AXFR = 252,
    ANY = 255,
    CAA = 257,
}

/// <summary>
/// DNS response codes (RFC 1035, 2136, 6895) plus <see cref="NoResponse"/>. NoError is 0, so
/// <c>Where-Object Rcode -ne 0</c> keeps exactly the failures: error responses and unanswered queries.
/// </summary>
public enum DnsResponseCode
{
    /// <summary>A query that got no response within the trace's response timeout (not a DNS code).</summary>
    NoResponse = -1,
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NXDomain = 3,
    NotImp = 4,
    Refused = 5,
    YXDomain = 6,
    YXRRSet = 7,
    NXRRSet = 8,
    NotAuth = 9,
    NotZone = 10,
}
