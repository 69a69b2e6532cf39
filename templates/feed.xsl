<?xml version="1.0" encoding="utf-8"?>
<!-- Shows an Atom or RSS feed of this site as a page when a browser opens it: the feed's title,
     its address to copy into a reader, and its entries. Feed readers ignore it. Every value is
     written as text (never as markup), and only http(s) links become links. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="utf-8" indent="no"
      doctype-system="about:legacy-compat"/>

  <xsl:variable name="months" select="'JanFebMarAprMayJunJulAugSepOctNovDec'"/>

  <xsl:template match="/atom:feed">
    <xsl:call-template name="page">
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="about" select="atom:subtitle"/>
      <xsl:with-param name="self" select="atom:link[@rel='self']/@href"/>
      <xsl:with-param name="home" select="atom:link[@rel='alternate']/@href"/>
      <xsl:with-param name="count" select="count(atom:entry)"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="/rss">
    <xsl:call-template name="page">
      <xsl:with-param name="title" select="channel/title"/>
      <xsl:with-param name="about" select="channel/description"/>
      <xsl:with-param name="self" select="channel/atom:link[@rel='self']/@href"/>
      <xsl:with-param name="home" select="channel/link"/>
      <xsl:with-param name="count" select="count(channel/item)"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="page">
    <xsl:param name="title"/>
    <xsl:param name="about"/>
    <xsl:param name="self"/>
    <xsl:param name="home"/>
    <xsl:param name="count"/>
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <style>
          body { margin: 0; background: #f6f6f3; color: #1d1d1b; line-height: 1.5;
                 font: 17px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
          main { max-width: 44rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
          h1 { font-size: 1.7rem; line-height: 1.2; margin: .5rem 0; }
          .about { color: #55554f; margin-top: 0; }
          .subscribe { background: #fff; border: 2px solid #2a5db0; border-radius: 8px;
                       padding: .8rem 1rem; margin: 1.2rem 0 2rem; }
          .subscribe h2 { font-size: 1rem; margin: 0 0 .4rem; }
          .subscribe code { display: block; padding: .5rem; background: #eef2fa;
                            border-radius: 4px; word-break: break-all; user-select: all;
                            font-size: .95rem; }
          .subscribe p { margin: .5rem 0 0; font-size: .9rem; color: #55554f; }
          article { border-top: 1px solid #ddddd5; padding: .9rem 0; }
          article h3 { font-size: 1.1rem; margin: 0; }
          a { color: #2a5db0; }
          time { color: #6b6b63; font-size: .9rem; }
          article p { margin: .3rem 0 0; }
        </style>
      </head>
      <body>
        <main>
          <p class="about">This is a web feed: a reader app shows you its new entries.</p>
          <h1><xsl:value-of select="$title"/></h1>
          <xsl:if test="string($about) != string($title)">
            <p class="about"><xsl:value-of select="$about"/></p>
          </xsl:if>
          <section class="subscribe">
            <h2>Copy this address into your reader</h2>
            <code><xsl:value-of select="$self"/></code>
            <p>
              <xsl:text>Paste it where your reader says "add feed" or "subscribe". </xsl:text>
              <xsl:call-template name="link">
                <xsl:with-param name="href" select="$home"/>
                <xsl:with-param name="text" select="'Visit the website'"/>
              </xsl:call-template>
            </p>
          </section>
          <h2>Latest entries</h2>
          <xsl:if test="$count = 0">
            <p>No entries yet.</p>
          </xsl:if>
          <xsl:apply-templates select="atom:entry | channel/item"/>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <article>
      <h3>
        <xsl:call-template name="link">
          <xsl:with-param name="href" select="atom:link[@rel='alternate']/@href"/>
          <xsl:with-param name="text" select="atom:title"/>
        </xsl:call-template>
      </h3>
      <xsl:variable name="when" select="(atom:published | atom:updated)[1]"/>
      <time datetime="{$when}">
        <xsl:value-of select="number(substring($when, 9, 2))"/>
        <xsl:text> </xsl:text>
        <xsl:value-of select="substring($months, substring($when, 6, 2) * 3 - 2, 3)"/>
        <xsl:text> </xsl:text>
        <xsl:value-of select="substring($when, 1, 4)"/>
      </time>
      <p>
        <xsl:choose>
          <xsl:when test="atom:summary"><xsl:value-of select="atom:summary"/></xsl:when>
          <xsl:otherwise>
            <xsl:call-template name="lead">
              <xsl:with-param name="html" select="atom:content"/>
            </xsl:call-template>
          </xsl:otherwise>
        </xsl:choose>
      </p>
    </article>
  </xsl:template>

  <xsl:template match="item">
    <article>
      <h3>
        <xsl:call-template name="link">
          <xsl:with-param name="href" select="link"/>
          <xsl:with-param name="text" select="title"/>
        </xsl:call-template>
      </h3>
      <!-- "Wed, 04 Nov 2026 08:00:00 GMT" -->
      <time>
        <xsl:value-of select="number(substring(pubDate, 6, 2))"/>
        <xsl:text> </xsl:text>
        <xsl:value-of select="substring(pubDate, 9, 8)"/>
      </time>
      <p>
        <xsl:call-template name="lead">
          <xsl:with-param name="html" select="description"/>
        </xsl:call-template>
      </p>
    </article>
  </xsl:template>

  <!-- An <a> for http(s) links; anything else is shown as plain text. -->
  <xsl:template name="link">
    <xsl:param name="href"/>
    <xsl:param name="text"/>
    <xsl:choose>
      <xsl:when test="starts-with($href, 'https://') or starts-with($href, 'http://')">
        <a href="{$href}"><xsl:value-of select="$text"/></a>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- The text of an HTML fragment's first paragraph or bullet (else all of it), tags dropped. -->
  <xsl:template name="lead">
    <xsl:param name="html"/>
    <xsl:choose>
      <xsl:when test="starts-with(normalize-space($html), '&lt;p&gt;') and contains($html, '&lt;/p&gt;')">
        <xsl:call-template name="plain">
          <xsl:with-param name="html"
              select="substring-before(substring-after($html, '&lt;p&gt;'), '&lt;/p&gt;')"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:when test="starts-with(normalize-space($html), '&lt;ul&gt;&lt;li&gt;') and contains($html, '&lt;/li&gt;')">
        <xsl:call-template name="plain">
          <xsl:with-param name="html"
              select="substring-before(substring-after($html, '&lt;li&gt;'), '&lt;/li&gt;')"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="plain">
          <xsl:with-param name="html" select="$html"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="plain">
    <xsl:param name="html"/>
    <xsl:choose>
      <xsl:when test="contains($html, '&lt;')">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="substring-before($html, '&lt;')"/>
        </xsl:call-template>
        <xsl:call-template name="plain">
          <xsl:with-param name="html" select="substring-after(substring-after($html, '&lt;'), '&gt;')"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="$html"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- HTML text as it reads: the entities the feed writer uses, turned back into characters. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:choose>
      <xsl:when test="contains($text, '&amp;')">
        <xsl:value-of select="substring-before($text, '&amp;')"/>
        <xsl:variable name="rest" select="substring-after($text, '&amp;')"/>
        <xsl:variable name="name" select="substring-before($rest, ';')"/>
        <xsl:choose>
          <xsl:when test="$name = 'amp'">&amp;</xsl:when>
          <xsl:when test="$name = 'lt'">&lt;</xsl:when>
          <xsl:when test="$name = 'gt'">&gt;</xsl:when>
          <xsl:when test="$name = 'quot' or $name = '#34'">"</xsl:when>
          <xsl:when test="$name = '#39' or $name = 'apos'">'</xsl:when>
          <xsl:otherwise>&amp;</xsl:otherwise>
        </xsl:choose>
        <xsl:call-template name="unescape">
          <xsl:with-param name="text">
            <xsl:choose>
              <xsl:when test="$name = 'amp' or $name = 'lt' or $name = 'gt' or $name = 'quot'
                  or $name = '#34' or $name = '#39' or $name = 'apos'">
                <xsl:value-of select="substring-after($rest, ';')"/>
              </xsl:when>
              <xsl:otherwise><xsl:value-of select="$rest"/></xsl:otherwise>
            </xsl:choose>
          </xsl:with-param>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
