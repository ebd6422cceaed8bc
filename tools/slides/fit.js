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
  function heightAlone(sec, c) {  // the height `c` takes as the only content of `sec`
    sec.innerHTML = ''; sec.appendChild(c);
    var h = measure(sec).height;
    sec.removeChild(c);
    return h;
  }
  function fits(sec, c) { return heightAlone(sec, c) <= H; }
  function splitLines(sec, cell, pre) {
    // a code block that does not fit: consecutive parts, each as many lines as fit (measured, wrapping included)
    var idx = Array.prototype.indexOf.call(cell.querySelectorAll('pre'), pre);
    var lines = pre.textContent.replace(/\n$/, '').split('\n');
    return greedyParts(sec, lines.length, function (a, b) {
      var c = cell.cloneNode(true);
      c.querySelectorAll('pre')[idx].textContent = lines.slice(a, b).join('\n');
      return c;
    });
  }
  function greedyParts(sec, n, part) {
    // items 0..n-1 as consecutive parts part(a, b), each with as many items as fit a slide (at least one)
    var parts = [], i = 0;
    while (i < n) {
      var j = i + 1;
      while (j < n && fits(sec, part(i, j + 1))) { j++; }
      parts.push(part(i, j)); i = j;
    }
    return parts;
  }
  function split(sec, c, depth) {
    // `c` (one cell) as a list of pieces that each fit a slide
    if (depth > 4 || fits(sec, c)) { return [c]; }
    var input = c.querySelector('.jp-Cell-inputWrapper'), output = c.querySelector('.jp-Cell-outputWrapper');
    if (input && output && output.textContent.trim() + output.querySelectorAll('img').length) {
      var a = c.cloneNode(true), b = c.cloneNode(true);  // code on one slide, what it printed or drew on the next
      a.querySelector('.jp-Cell-outputWrapper').remove();
      b.querySelector('.jp-Cell-inputWrapper').remove();
      return split(sec, a, depth + 1).concat(split(sec, b, depth + 1));
    }
    var outs = c.querySelectorAll('.jp-OutputArea-child');
    if (!input && outs.length > 1) {  // several outputs (text, then a figure): each may go to its own slide
      var pieces0 = [];
      for (var k = 0; k < outs.length; k++) {
        var one = c.cloneNode(true), kids = one.querySelectorAll('.jp-OutputArea-child');
        for (var q = 0; q < kids.length; q++) { if (q !== k) { kids[q].remove(); } }
        pieces0 = pieces0.concat(split(sec, one, depth + 1));
      }
      return pieces0;
    }
    var imgs = c.querySelectorAll('img');
    if (imgs.length) {  // a figure taller than a slide: scale it down until the cell fits
      var hgt = heightAlone(sec, c), img = imgs[imgs.length - 1];
      var over = hgt - H, ih = img.getBoundingClientRect().height || img.naturalHeight;
      img.style.maxHeight = Math.max(150, ih - over - 8) + 'px';
      img.style.width = 'auto';
      return [c];
    }
    var md = c.querySelector('.jp-RenderedMarkdown');
    if (md) {  // a long markdown cell: its blocks (a long list: its items) go to consecutive slides
      var blocks = Array.prototype.slice.call(md.children), pieces = [];
      if (blocks.length === 1 && /^(UL|OL)$/.test(blocks[0].tagName)) {
        var items = Array.prototype.slice.call(blocks[0].children);
        blocks = items.map(function (li) { var l = blocks[0].cloneNode(false); l.appendChild(li.cloneNode(true)); return l; });
      }
      if (blocks.length === 1 && blocks[0].tagName === 'TABLE' && blocks[0].tBodies.length) {
        // a table taller than a slide: its rows go to consecutive slides, each under the table's header
        var rows = Array.prototype.slice.call(blocks[0].tBodies[0].rows);
        return greedyParts(sec, rows.length, function (a, b) {
          var part = c.cloneNode(true), tb = part.querySelector('.jp-RenderedMarkdown table').tBodies[0];
          tb.innerHTML = '';
          rows.slice(a, b).forEach(function (r) { tb.appendChild(r.cloneNode(true)); });
          return part;
        });
      }
      if (blocks.length < 2) { return [c]; }
      blocks.forEach(function (b) {
        var part = c.cloneNode(true), pm = part.querySelector('.jp-RenderedMarkdown');
        pm.innerHTML = ''; pm.appendChild(b.cloneNode(true));
        pieces = pieces.concat(split(sec, part, depth + 1));
      });
      return pieces;
    }
    var pres = Array.prototype.slice.call(c.querySelectorAll('pre'));
    if (pres.length) {
      var longest = pres.reduce(function (x, y) { return y.textContent.length > x.textContent.length ? y : x; });
      return splitLines(sec, c, longest);
    }
    return [c];
  }
  leafSections().forEach(function (sec) {
    var m = measure(sec);
    if (m.height <= H) { return; }
    var notes = sec.querySelector('aside.notes');
    var children = Array.prototype.slice.call(sec.children).filter(function (c) { return c.tagName !== 'ASIDE'; });
    var expanded = [];
    children.forEach(function (c) { c.remove(); });
    if (notes) { notes.remove(); }
    children.forEach(function (c) { expanded = expanded.concat(split(sec, c, 0)); });
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
