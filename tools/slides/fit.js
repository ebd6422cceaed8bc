// Make every slide fit the 1280x720 slide: a slide whose content is taller than the slide is split
// into as many slides as it needs (cell by cell; a long code block line by line; a figure taller
// than a slide is scaled down). Runs once, after MathJax has typeset, before the deck is shown.
function courseFitSlides(Reveal) {
  var H = 720 - 50;  // the slide's height (1280x720), less a margin for the slide number
  var slidesEl = document.querySelector('.reveal .slides');
  slidesEl.style.width = '1280px';
  function leafSections() {
    return Array.prototype.slice.call(document.querySelectorAll('.reveal .slides section'))
      .filter(function (s) { return !s.querySelector('section'); });
  }
  function measure(sec) {
    var old = [sec.style.display, sec.style.visibility, sec.style.height];
    var parent = sec.parentElement, oldParent = parent ? parent.style.display : null;
    sec.style.display = 'block'; sec.style.visibility = 'hidden'; sec.style.height = 'auto';
    if (parent && parent.tagName === 'SECTION') { parent.style.display = 'block'; }
    var h = sec.scrollHeight;
    var kids = Array.prototype.slice.call(sec.children).filter(function (c) { return c.tagName !== 'ASIDE'; })
      .map(function (c) { var cs = getComputedStyle(c); return c.offsetHeight + parseFloat(cs.marginTop || 0) + parseFloat(cs.marginBottom || 0); });
    sec.style.display = old[0]; sec.style.visibility = old[1]; sec.style.height = old[2];
    if (parent && parent.tagName === 'SECTION') { parent.style.display = oldParent; }
    return {height: h, kids: kids};
  }
  function splitPre(cell, maxLines) {
    // one code cell with too many lines becomes several cells of at most maxLines lines
    var pre = cell.querySelector('.jp-InputArea pre, pre');
    if (!pre) { return [cell]; }
    var lines = pre.textContent.split('\n');
    if (lines.length <= maxLines) { return [cell]; }
    var parts = [];
    for (var i = 0; i < lines.length; i += maxLines) {
      var c = cell.cloneNode(true);
      var p = c.querySelector('.jp-InputArea pre, pre');
      p.textContent = lines.slice(i, i + maxLines).join('\n');
      if (i + maxLines < lines.length) { var out = c.querySelector('.jp-Cell-outputWrapper, .jp-OutputArea'); if (out) { out.remove(); } }
      parts.push(c);
    }
    return parts;
  }
  leafSections().forEach(function (sec) {
    var m = measure(sec);
    if (m.height <= H) { return; }
    var notes = sec.querySelector('aside.notes');
    var children = Array.prototype.slice.call(sec.children).filter(function (c) { return c.tagName !== 'ASIDE'; });
    // a single child taller than a slide: split code by lines
    var expanded = [];
    children.forEach(function (c, i) {
      var img = c.querySelector('img');
      if (m.kids[i] > H && img) {  // a figure cell taller than a slide: scale its figure down to fit
        var other = m.kids[i] - img.getBoundingClientRect().height;
        img.style.maxHeight = Math.max(200, H - Math.max(0, other) - 10) + 'px';
        expanded.push(c);
      } else if (m.kids[i] > H && c.querySelector('.jp-RenderedMarkdown')) {
        // a long markdown cell: its paragraphs, lists and tables go to consecutive slides
        var md = c.querySelector('.jp-RenderedMarkdown');
        var blocks = Array.prototype.slice.call(md.children);
        blocks.forEach(function (b) {
          var part = c.cloneNode(true), pm = part.querySelector('.jp-RenderedMarkdown');
          pm.innerHTML = ''; pm.appendChild(b.cloneNode(true));
          expanded.push(part);
        });
        c.remove();
      } else if (m.kids[i] > H && c.querySelector('pre')) {
        var lineH = 30, maxLines = Math.max(6, Math.floor((H - 60) / lineH));
        splitPre(c, maxLines).forEach(function (p) { expanded.push(p); });
        c.remove();
      } else { expanded.push(c); }
    });
    expanded.forEach(function (c) { sec.appendChild(c); });
    if (notes) { sec.appendChild(notes); }
    // regroup the children into slides of at most H
    var groups = [[]], used = 0;
    expanded.forEach(function (c) {
      sec.innerHTML = ''; sec.appendChild(c);
      var h = measure(sec).height;
      if (used > 0 && used + h > H) { groups.push([]); used = 0; }
      groups[groups.length - 1].push(c); used += h;
    });
    sec.innerHTML = '';
    groups[0].forEach(function (c) { sec.appendChild(c); });
    if (notes) { sec.appendChild(notes); }
    var after = sec;
    for (var g = 1; g < groups.length; g++) {
      var s = document.createElement('section');
      groups[g].forEach(function (c) { s.appendChild(c); });
      after.parentNode.insertBefore(s, after.nextSibling);
      after = s;
    }
  });
  slidesEl.style.width = '';
  // progressive reveal: a list of three or more points builds up item by item (not in References)
  leafSections().forEach(function (sec) {
    var h = sec.querySelector('h1, h2, h3');
    if (h && /^references/i.test(h.textContent.trim())) { return; }
    sec.querySelectorAll('.jp-RenderedMarkdown > ul, .jp-RenderedMarkdown > ol').forEach(function (list) {
      var items = list.querySelectorAll(':scope > li');
      if (items.length >= 3) { items.forEach(function (li) { li.classList.add('fragment'); }); }
    });
  });
}
