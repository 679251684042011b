using System.Net;

namespace Gadget;

/// <summary>
/// A DNS message a local socket sent or received (gadget <c>dns</c>), or a query that got no
/// response in time: then <see cref="Rcode"/> is <see cref="DnsResponseCode.NoResponse"/>, the
/// other fields (including <see cref="GadgetEvent.Timestamp"/>) are the query's, and
/// <see cref="Latency"/> is null. Its fields are generated from the gadget's BTF (DnsEvent.g.cs).
/// </summary>
public sealed partial class DnsEvent
{
    /// <summary>The server: the destination of a query, the source of a response.</summary>
    [Newtonsoft.Json.JsonIgnore]
    public new IPAddress Nameserver => Qr == DnsQr.Query ? Dst.Address : Src.Address;
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
