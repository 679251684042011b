using System.Globalization;
using System.Net;

namespace Gadget;

/// <summary>
/// The text forms ConvertTo-Json writes for typed event properties (see the generated
/// <c>*Json</c> base classes): what a person reads, and what the type parses back
/// (<c>[IPAddress]</c>, <c>[IPEndPoint]::Parse</c>, <c>[TimeSpan]</c>, <c>[Gadget.DnsResponseCode]</c>).
/// </summary>
internal static class JsonText
{
    /// <summary>127.0.0.1 or ::1.</summary>
    public static string? Of(IPAddress? address) => address?.ToString();

    /// <summary>127.0.0.1:53 or [::1]:53.</summary>
    public static string? Of(IPEndPoint? endPoint) => endPoint?.ToString();

    /// <summary>A JSON array of addresses as text.</summary>
    public static string[]? Of(IPAddressList? addresses) => addresses?.Select(a => a.ToString()).ToArray();

    /// <summary>d.hh:mm:ss.fffffff without the parts that are zero at the front: 00:00:00.0012000 is 1.2 ms.</summary>
    public static string? Of(TimeSpan? duration) => duration?.ToString("c", CultureInfo.InvariantCulture);

    /// <summary>The member's name (NXDomain); flags as their names joined by ", "; a number only when it has no name.</summary>
    public static string Of<T>(T value)
        where T : struct, Enum => value.ToString();
}
