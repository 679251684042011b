#Requires -Version 7.6
# Trace-GadgetDns judged by dig: for each answer dnsmasq gives (A, AAAA, a CNAME chain, MX, TXT,
# SRV, 60 A records over UDP with EDNS, a TXT too large for UDP that dig retries over TCP), the
# trace's Rcode, NumAnswers, Addresses and header flags are what dig prints. Also: a query to a
# server that never answers is reported even when -Duration ends first, and Comm is the process's
# name when the thread that sends has named itself otherwise. A dnsmasq on 127.0.21.1 answers; a
# UDP socket on 127.0.21.2 never does.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    $script:SkipKernel = -not ($env:CI -eq 'true' -or ($IsLinux -and [Environment]::IsPrivilegedProcess -and (Test-Path /sys/kernel/btf/vmlinux)))
}

BeforeAll {
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Server = '127.0.21.1'
    $script:Silent = '127.0.21.2'
    $script:Work = Join-Path ([IO.Path]::GetTempPath()) "gadget-dnsdig-$([Guid]::NewGuid().ToString('N'))"
    $null = New-Item -ItemType Directory $Work

    # 60 addresses for one name (998 bytes over UDP with EDNS, as dig reports), and a TXT of four
    # 200-byte strings (842 bytes: more than UDP without EDNS carries, so the server sets TC).
    1..60 | ForEach-Object { "10.21.0.$_ many.test" } | Set-Content (Join-Path $Work 'hosts')
    $big = (1..4 | ForEach-Object { '"' + ('x' * 200) + '"' }) -join ','
    @(
        'port=53', 'bind-interfaces', "listen-address=$Server", 'no-resolv', 'no-hosts',
        "addn-hosts=$(Join-Path $Work 'hosts')",
        'host-record=a.test,127.1.21.1,fd00::21',
        'cname=c1.test,c2.test', 'cname=c2.test,a.test',
        'mx-host=mx.test,a.test,10',
        'txt-record=txt.test,"hello world"',
        'srv-host=_sip._udp.srv.test,a.test,5060,0,10',
        "txt-record=big.test,$big"
    ) | Set-Content (Join-Path $Work 'dnsmasq.conf')
    $script:Dnsmasq = Start-Process dnsmasq -PassThru -RedirectStandardError (Join-Path $Work 'dnsmasq.log') -ArgumentList @(
        '--no-daemon', "--conf-file=$(Join-Path $Work 'dnsmasq.conf')", "--pid-file=$(Join-Path $Work 'dnsmasq.pid')")
    $watch = [Diagnostics.Stopwatch]::StartNew()
    while ((& dig "@$Server" +short +tries=1 +timeout=1 a.test) -notcontains '127.1.21.1') {
        if ($Dnsmasq.HasExited -or $watch.Elapsed.TotalSeconds -gt 10) { throw "dnsmasq did not start: $(Get-Content (Join-Path $Work 'dnsmasq.log') -Raw)" }
        Start-Sleep -Milliseconds 100
    }
    $script:SilentServer = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([ipaddress]$Silent, 53))

    function ConvertFrom-Dig {
        # What dig printed for one exchange: id, status, flags, answer count, and the A/AAAA
        # records of the answer section. With a TCP retry, dig prints the TCP exchange.
        param([string] $Name, [string] $Type, [string[]] $Lines)
        $header = $Lines | Where-Object { $_ -match '->>HEADER<<- .*status: (\w+), id: (\d+)' } | Select-Object -Last 1
        $null = $header -match 'status: (\w+), id: (\d+)'
        $status = $Matches[1]; $id = [int]$Matches[2]
        $flagLine = $Lines | Where-Object { $_ -match '^;; flags: ([a-z ]*);.*ANSWER: (\d+)' } | Select-Object -Last 1
        $null = $flagLine -match '^;; flags: ([a-z ]*);.*ANSWER: (\d+)'
        $flags = -split $Matches[1]; $answers = [int]$Matches[2]
        $inAnswer = $false
        $addresses = foreach ($line in $Lines) {
            if ($line -match '^;; ANSWER SECTION:') { $inAnswer = $true; continue }
            if ($line -match '^;; ' -or $line -eq '') { $inAnswer = $false; continue }
            if ($inAnswer -and $line -match '\sIN\s+(A|AAAA)\s+(\S+)$') { ([ipaddress]$Matches[2]).ToString() }
        }
        [pscustomobject]@{
            Name = "$Name."; Type = $Type; Id = $id; Status = $status; Flags = $flags; Answers = $answers
            Addresses = @($addresses | Sort-Object); Tcp = [bool]($Lines -match 'Truncated, retrying in TCP mode')
        }
    }
}

AfterAll {
    if ($script:Dnsmasq -and -not $script:Dnsmasq.HasExited) { $script:Dnsmasq.Kill(); $script:Dnsmasq.WaitForExit() }
    if ($script:SilentServer) { $script:SilentServer.Dispose() }
    if ($script:Work) { Remove-Item $script:Work -Recurse -Force -ErrorAction Ignore }
}

Describe 'Trace-GadgetDns agrees with dig' -Skip:$SkipKernel {
    BeforeAll {
        $questions = @(
            @('a.test', 'A', ''), @('a.test', 'AAAA', ''), @('c1.test', 'A', ''), @('mx.test', 'MX', ''),
            @('txt.test', 'TXT', ''), @('_sip._udp.srv.test', 'SRV', ''), @('many.test', 'A', ''),
            @('big.test', 'TXT', '+noedns'), @('nothing.test', 'A', ''))
        # The same questions every second while the trace runs: the trace may start after the
        # first round (a private agent starting); every round it saw is compared.
        $job = Start-ThreadJob -ScriptBlock {
            $Server = $using:Server
            $Questions = $using:questions
            Start-Sleep -Milliseconds 500
            foreach ($round in 1..6) {
                foreach ($q in $Questions) {
                    $digArguments = @("@$Server", '+tries=1', '+timeout=2') + @($q[2] | Where-Object { $_ }) + @($q[0], $q[1])
                    $lines = & dig @digArguments
                    [pscustomobject]@{ Name = $q[0]; Type = $q[1]; Lines = [string[]]$lines }
                }
                Start-Sleep -Milliseconds 700
            }
        }
        try {
            $script:Events = @(Trace-GadgetDns -Local -Duration 8 -Name '*.test' -ResponseTimeout 1 | Where-Object { $_.Nameserver -eq [ipaddress]$Server })
        }
        finally {
            $raw = @($job | Wait-Job -Timeout 60 | Receive-Job)
            $job | Remove-Job -Force
        }
        $script:Digs = @($raw | ForEach-Object { ConvertFrom-Dig -Name $_.Name -Type $_.Type -Lines $_.Lines })
        $script:Pairs = @(foreach ($dig in $Digs) {
                $answer = $Events | Where-Object { $_.Id -eq $dig.Id -and $_.Name -eq $dig.Name -and $_.Qr -eq 'Response' -and $_.PacketType -eq 'Host' -and $_.Protocol -eq $(if ($dig.Tcp) { 'Tcp' } else { 'Udp' }) } | Select-Object -First 1
                if ($answer) { [pscustomobject]@{ Dig = $dig; Event = $answer } }
            })
    }

    It 'saw every kind of answer dig got' {
        $Digs.Count | Should -BeGreaterThan 0
        $seen = $Pairs | ForEach-Object { "$($_.Dig.Name) $($_.Dig.Type)" } | Sort-Object -Unique
        $seen | Should -Be (@('a.test. A', 'a.test. AAAA', 'c1.test. A', 'mx.test. MX', 'txt.test. TXT', '_sip._udp.srv.test. SRV', 'many.test. A', 'big.test. TXT', 'nothing.test. A') | Sort-Object)
    }

    It 'has the Rcode, NumAnswers and Addresses dig printed, for <_>' -ForEach @('a.test. A', 'a.test. AAAA', 'c1.test. A', 'mx.test. MX', 'txt.test. TXT', '_sip._udp.srv.test. SRV', 'many.test. A', 'big.test. TXT', 'nothing.test. A') {
        $name, $type = $_ -split ' '
        $pairs = @($Pairs | Where-Object { $_.Dig.Name -eq $name -and $_.Dig.Type -eq $type })
        $pairs.Count | Should -BeGreaterThan 0
        foreach ($pair in $pairs) {
            $dig = $pair.Dig; $event = $pair.Event
            $event.Rcode.ToString().ToUpperInvariant() | Should -Be $dig.Status
            $event.NumAnswers | Should -Be $dig.Answers
            @($event.Addresses | ForEach-Object ToString | Sort-Object) | Should -Be $dig.Addresses
            $event.QType.ToString() | Should -Be $type
            $event.AA | Should -Be ($dig.Flags -contains 'aa')
            $event.RD | Should -Be ($dig.Flags -contains 'rd')
            $event.RA | Should -Be ($dig.Flags -contains 'ra')
            $event.TC | Should -Be ($dig.Flags -contains 'tc')
            $event.CaptureTruncated | Should -BeFalse
        }
    }

    It 'keeps all 60 addresses of a 998-byte answer over UDP' {
        $many = $Pairs | Where-Object { $_.Dig.Name -eq 'many.test.' } | Select-Object -First 1
        $many.Event.Addresses.Count | Should -Be 60
        $many.Event.Protocol | Should -Be 'Udp'
    }

    It 'names the server''s process on a query it receives, or says plainly that it cannot (Pid 0)' {
        # What the server's socket received: known once that socket has sent (its first answer).
        $received = @($Events | Where-Object { $_.Qr -eq 'Query' -and $_.PacketType -eq 'Host' })
        $received.Count | Should -BeGreaterThan 0
        $received | ForEach-Object {
            if ($_.Pid -eq 0) { $_.Comm | Should -BeNullOrEmpty } else { $_.Comm | Should -BeExactly 'dnsmasq'; $_.Pid | Should -Be $Dnsmasq.Id }
        }
        @($received | Where-Object Pid -eq $Dnsmasq.Id).Count | Should -BeGreaterThan 0
    }

    It 'shows the TC bit of the UDP answer, then the TCP retry with the whole answer' {
        $retried = @($Digs | Where-Object { $_.Name -eq 'big.test.' -and $_.Tcp })
        $retried.Count | Should -BeGreaterThan 0
        $udp = @($Events | Where-Object { $_.Name -eq 'big.test.' -and $_.Qr -eq 'Response' -and $_.PacketType -eq 'Host' -and $_.Protocol -eq 'Udp' })
        $udp.Count | Should -BeGreaterThan 0
        $udp | ForEach-Object { $_.TC | Should -BeTrue; $_.CaptureTruncated | Should -BeFalse }
        $tcp = @($Events | Where-Object { $_.Name -eq 'big.test.' -and $_.Qr -eq 'Response' -and $_.PacketType -eq 'Host' -and $_.Protocol -eq 'Tcp' })
        $tcp.Count | Should -BeGreaterThan 0
        $tcp | ForEach-Object { $_.TC | Should -BeFalse; $_.NumAnswers | Should -Be 1 }
    }
}

Describe 'Trace-GadgetDns at the end of -Duration' -Skip:$SkipKernel {
    It 'reports a query sent during the trace and never answered, though -Duration ends before -ResponseTimeout' {
        $job = Start-ThreadJob -ArgumentList $Silent -ScriptBlock {
            param($Silent)
            $client = [Net.Sockets.UdpClient]::new()
            try {
                foreach ($i in 1..30) {
                    # A query for silent.test with a fresh id, every 200 ms for 6 seconds.
                    $id = Get-Random -Minimum 1 -Maximum 65535
                    $query = [byte[]](@([byte]($id -shr 8), [byte]($id -band 255), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 6) + [Text.Encoding]::ASCII.GetBytes('silent') + @(4) + [Text.Encoding]::ASCII.GetBytes('test') + @(0, 0, 1, 0, 1))
                    $null = $client.Send($query, $query.Length, $Silent, 53)
                    Start-Sleep -Milliseconds 200
                }
            }
            finally {
                $client.Dispose()
            }
        }
        try {
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $all = @(Trace-GadgetDns -Local -Duration 2 -ResponseTimeout 3 -Name 'silent.test')
            $watch.Stop()
        }
        finally {
            $job | Stop-Job -PassThru | Remove-Job -Force
        }
        $queries = @($all | Where-Object { $_.Qr -eq 'Query' -and $_.Rcode -eq 'NoError' -and $_.Nameserver -eq [ipaddress]$Silent })
        $queries.Count | Should -BeGreaterThan 0
        $failures = @($all | Where-Object Rcode -ne 0)
        # Every query of the trace got its NoResponse, though none had waited 3 s when it ended.
        @($failures.Id | Sort-Object -Unique) | Should -Be @($queries.Id | Sort-Object -Unique)
        $failures | ForEach-Object { $_.Rcode | Should -Be 'NoResponse' }
        # The wait is bounded by the response timeout.
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 15
    }
}

Describe 'Comm is the process name' -Skip:$SkipKernel {
    BeforeAll {
        # python3 under a name of its own (a process's name is its program's file name), whose
        # worker thread renames itself and then opens a file and sends DNS queries.
        $script:Program = Join-Path $Work 'gdt21proc'
        # The interpreter itself, not a launcher script (pyenv's shim runs what its name says).
        $python = & python3 -c 'import os, sys; print(os.path.realpath(sys.executable))'
        $null = New-Item -ItemType SymbolicLink -Path $Program -Target $python
        $script:Marker = Join-Path $Work 'comm-marker'
        $script:Script = Join-Path $Work 'worker.py'
        @"
import socket, threading, time, random
def work():
    with open('/proc/self/task/%d/comm' % threading.get_native_id(), 'w') as f:
        f.write('gdt-worker')
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    for _ in range(40):
        open('$Marker', 'w').close()
        i = random.randrange(1, 65535)
        s.sendto(bytes([i >> 8, i & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]) + b'a' + bytes([4]) + b'test' + bytes([0, 0, 1, 0, 1]), ('$Server', 53))
        try:
            s.recv(4096)
        except OSError:
            pass
        time.sleep(0.2)
t = threading.Thread(target=work)
t.start()
t.join()
"@ | Set-Content $Script
    }

    It 'names the process for a thread named otherwise, and -Comm with the process name matches it: <Cmdlet>' -ForEach @(
        @{ Cmdlet = 'Trace-GadgetDns' }, @{ Cmdlet = 'Trace-GadgetOpen' }) {
        $only = if ($Cmdlet -eq 'Trace-GadgetOpen') { @{ Path = $Marker } } else { @{ Name = 'a.test' } }
        $worker = Start-Process $Program -ArgumentList $Script -PassThru
        try {
            $events = @(& $Cmdlet -Local -Comm gdt21proc -Duration 4 -MaxEvents 10 @only)
        }
        finally {
            $worker.WaitForExit(15000)
            if (-not $worker.HasExited) { $worker.Kill() }
        }
        $events.Count | Should -BeGreaterThan 0
        $events | ForEach-Object {
            $_.Comm | Should -BeExactly 'gdt21proc'
            $_.Pid | Should -Be $worker.Id
            $_.Tid | Should -Not -Be $worker.Id
        }
    }
}

Describe 'Processes piped in, and -Pid with several ids' -Skip:$SkipKernel {
    BeforeAll {
        # Three processes that each open a marker file every 100 ms for 10 seconds.
        $script:Opener = Join-Path $Work 'opener.py'
        $script:PipeMarker = Join-Path $Work 'pipe-marker'
        "import time`nfor _ in range(100):`n    open('$PipeMarker', 'w').close()`n    time.sleep(0.1)" | Set-Content $Opener
    }

    BeforeEach {
        $script:Openers = @(1..3 | ForEach-Object { Start-Process python3 -ArgumentList $Opener -PassThru })
    }

    AfterEach {
        $script:Openers | Where-Object { -not $_.HasExited } | ForEach-Object { $_.Kill(); $_.WaitForExit() }
    }

    It 'traces the processes Get-Process passes, all in one trace, and no others' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $events = @(Get-Process -Id $Openers[0].Id, $Openers[1].Id | Trace-GadgetOpen -Local -Path $PipeMarker -Duration 3)
        $watch.Stop()
        @($events.Pid | Sort-Object -Unique) | Should -Be @($Openers[0].Id, $Openers[1].Id | Sort-Object)
        # One trace over both, not one after the other.
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5.9
    }

    It '-Pid takes several ids' {
        $events = @(Trace-GadgetOpen -Local -Path $PipeMarker -Duration 3 -Pid $Openers[1].Id, $Openers[2].Id)
        @($events.Pid | Sort-Object -Unique) | Should -Be @($Openers[1].Id, $Openers[2].Id | Sort-Object)
    }

    It 'refuses what it cannot trace, and traces nothing then' {
        $events = @('not a process' | Trace-GadgetOpen -Local -Path $PipeMarker -Duration 2 -ErrorVariable problems -ErrorAction SilentlyContinue)
        $events | Should -BeNullOrEmpty
        $problems[0].FullyQualifiedErrorId | Should -BeExactly 'InvalidInputObject,Gadget.Commands.TraceOpenCommand'
    }
}
