import Foundation

/// Small server-rendered inline SVG charts with labelled axes, for the dashboard: stacked bars or lines over
/// time buckets, every value also in a `<title>` (the browser shows it on hover, no script needed).
enum SVGChart {
    /// One named series, one value per bucket (nil: nothing measured in that bucket).
    struct Series {
        var name: String
        var color: String
        var values: [Double?]
    }

    /// How the series are drawn.
    enum Style {
        /// Bars, the series stacked in order.
        case stackedBars
        /// A line per series, broken where a value is missing.
        case lines
    }

    static let width = 420.0, height = 170.0
    static let left = 52.0, right = 10.0, top = 10.0, bottom = 30.0
    static var plotWidth: Double { width - left - right }
    static var plotHeight: Double { height - top - bottom }

    /// The bucket starts of a window ending now: `count` buckets of `seconds`, the last one holding `now`.
    static func buckets(count: Int, seconds: Int, now: Date) -> [Date] {
        let last = floor(now.timeIntervalSince1970 / Double(seconds)) * Double(seconds)
        return (0..<count).map { Date(timeIntervalSince1970: last - Double((count - 1 - $0) * seconds)) }
    }

    /// The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `value` (1 for nothing), so ticks are round numbers.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value * 0.999_999 { return step * magnitude }
        return 10 * magnitude
    }

    /// `HH:mm` in UTC.
    static func clock(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }

    /// The chart as an `<svg>` element.
    /// - Parameters:
    ///   - label: the accessible name (e.g. "OrderClient finished per minute").
    ///   - bucketSeconds: one bucket's width, for the x labels and tooltips.
    ///   - incompleteBefore: buckets before this were not fully counted (shaded and said so).
    ///   - format: writes a value for the y axis and tooltips.
    static func render(
        label: String, buckets: [Date], bucketSeconds: Int, series: [Series], style: Style, incompleteBefore: Date? = nil,
        format: (Double) -> String
    ) -> String {
        let count = max(1, buckets.count)
        let peak: Double =
            switch style {
            case .stackedBars: (0..<buckets.count).map { index in series.reduce(0) { $0 + ($1.values[safe: index].flatMap { $0 } ?? 0) } }.max() ?? 0
            case .lines: series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0
            }
        let ceiling = niceCeiling(peak)
        let slot = plotWidth / Double(count)
        func y(_ value: Double) -> Double { top + plotHeight * (1 - min(value, ceiling) / ceiling) }
        func number(_ value: Double) -> String { String(format: "%.1f", value) }
        var svg =
            "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(label))\">"
        svg += "<rect x=\"\(number(left))\" y=\"\(number(top))\" width=\"\(number(plotWidth))\" height=\"\(number(plotHeight))\" fill=\"#f7f8fa\"/>"
        if let incompleteBefore, let first = buckets.first, incompleteBefore > first {
            let cut = min(Double(count), max(0, incompleteBefore.timeIntervalSince(first) / Double(bucketSeconds)))
            svg +=
                "<rect x=\"\(number(left))\" y=\"\(number(top))\" width=\"\(number(cut * slot))\" height=\"\(number(plotHeight))\" fill=\"#e4e6ea\" data-incomplete=\"1\"><title>not fully counted: more finished rows than the chart reads</title></rect>"
        }
        // Y axis: gridlines and values at 0, ½ and the top.
        for fraction in [0.0, 0.5, 1.0] {
            let value = ceiling * fraction
            let lineY = y(value)
            svg +=
                "<line x1=\"\(number(left))\" x2=\"\(number(width - right))\" y1=\"\(number(lineY))\" y2=\"\(number(lineY))\" stroke=\"#d5d9e0\" stroke-width=\"1\"\(fraction == 0 ? "" : " stroke-dasharray=\"3 3\"")/>"
            svg +=
                "<text x=\"\(number(left - 5))\" y=\"\(number(lineY + 4))\" font-size=\"11\" fill=\"#4a5262\" text-anchor=\"end\" data-axis=\"y\">\(HTML.escape(format(value)))</text>"
        }
        svg +=
            "<line x1=\"\(number(left))\" x2=\"\(number(left))\" y1=\"\(number(top))\" y2=\"\(number(top + plotHeight))\" stroke=\"#8a93a3\" stroke-width=\"1\"/>"
        // X axis: five clock labels, the last at the window's end.
        for tick in 0...4 {
            let index = Double(count) * Double(tick) / 4
            let x = left + index * slot
            let date = (buckets.first ?? Date()).addingTimeInterval(index * Double(bucketSeconds))
            let anchor = tick == 0 ? "start" : tick == 4 ? "end" : "middle"
            svg +=
                "<line x1=\"\(number(x))\" x2=\"\(number(x))\" y1=\"\(number(top + plotHeight))\" y2=\"\(number(top + plotHeight + 4))\" stroke=\"#8a93a3\"/>"
            svg +=
                "<text x=\"\(number(x))\" y=\"\(number(top + plotHeight + 16))\" font-size=\"11\" fill=\"#4a5262\" text-anchor=\"\(anchor)\" data-axis=\"x\">\(clock(date))</text>"
        }
        svg += "<text x=\"\(number(width - right))\" y=\"\(number(height - 2))\" font-size=\"10\" fill=\"#7a8292\" text-anchor=\"end\">UTC</text>"
        func span(_ index: Int) -> String {
            guard let start = buckets[safe: index] else { return "" }
            return "\(clock(start))–\(clock(start.addingTimeInterval(Double(bucketSeconds))))"
        }
        switch style {
        case .stackedBars:
            for index in 0..<buckets.count {
                var base = 0.0
                let parts = series.map { "\(format($0.values[safe: index].flatMap { $0 } ?? 0)) \($0.name)" }.joined(separator: ", ")
                for entry in series {
                    guard let value = entry.values[safe: index].flatMap({ $0 }), value > 0 else { continue }
                    let barTop = y(base + value)
                    let barBottom = y(base)
                    svg +=
                        "<rect x=\"\(number(left + Double(index) * slot + 0.5))\" y=\"\(number(barTop))\" width=\"\(number(max(1, slot - 1)))\" height=\"\(number(max(0.5, barBottom - barTop)))\" fill=\"\(entry.color)\"><title>\(span(index)): \(HTML.escape(parts))</title></rect>"
                    base += value
                }
            }
        case .lines:
            for entry in series {
                var segment: [String] = []
                func flush() {
                    if segment.count > 1 {
                        svg += "<polyline fill=\"none\" stroke=\"\(entry.color)\" stroke-width=\"1.6\" points=\"\(segment.joined(separator: " "))\"/>"
                    }
                    segment = []
                }
                for index in 0..<buckets.count {
                    guard let value = entry.values[safe: index].flatMap({ $0 }) else {
                        flush()
                        continue
                    }
                    let x = left + (Double(index) + 0.5) * slot
                    let pointY = y(value)
                    segment.append("\(number(x)),\(number(pointY))")
                    svg +=
                        "<circle cx=\"\(number(x))\" cy=\"\(number(pointY))\" r=\"1.8\" fill=\"\(entry.color)\"><title>\(span(index)): \(HTML.escape(entry.name)) \(HTML.escape(format(value)))</title></circle>"
                }
                flush()
            }
        }
        return svg + "</svg>"
    }

    /// A legend line for `series`, as HTML.
    static func legend(_ series: [Series]) -> String {
        series.map { "<span class=\"key\"><i style=\"background:\($0.color)\"></i>\(HTML.escape($0.name))</span>" }.joined(separator: " ")
    }
}

extension Array {
    /// The element at `index`, or nil outside the array.
    subscript(safe index: Int) -> Element? {
        indices.contains(index) ? self[index] : nil
    }
}
