using System.Collections.ObjectModel;
using System.Net;

namespace Gadget;

/// <summary>
/// Addresses from DNS answers. A list for code (<c>$e.Addresses[0]</c>, <c>-contains</c>, JSON
/// arrays) that prints as <c>127.1.2.3, fd00::1</c>, so tables and Export-Csv show the addresses,
/// not a type name.
/// </summary>
public sealed class IPAddressList : ReadOnlyCollection<IPAddress>
{
    public IPAddressList(IList<IPAddress> addresses)
        : base(addresses)
    {
    }

    public override string ToString() => string.Join(", ", this);
}
